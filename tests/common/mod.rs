//! Shared by the differential and simplification tests: graphs with their
//! feeds, random graph generation, and comparisons; and data files for the
//! loader and evaluation tests.

#![allow(dead_code)]

pub mod cases;
pub mod files;
pub mod training;

use nnc::backend::Env;
use nnc::backend::Tensor;
use nnc::graph::build::broadcast_shapes;
use nnc::graph::semantics::rng::Rng;
use nnc::graph::{BinaryOp, DType, Graph, NodeId, Op, ReduceOp, Shape, SliceRange, UnaryOp};

/// A graph under construction with the environment that feeds it.
pub struct Case {
    pub g: Graph,
    pub env: Env,
    pub rng: Rng,
    /// Parameters created, in order.
    pub params: Vec<NodeId>,
}

impl Case {
    pub fn new(seed: u64) -> Case {
        Case { g: Graph::new(), env: Env::new(seed), rng: Rng::new(seed), params: Vec::new() }
    }

    fn leaf(&mut self, op: Op, dims: &[usize], data: Vec<f32>, dtype: DType) -> NodeId {
        let shape = Shape(dims.to_vec());
        let t = Tensor::new(shape.clone(), data);
        match &op {
            Op::Input { name } => self.env.inputs.insert(name.clone(), t),
            Op::Param { name } => self.env.params.insert(name.clone(), t),
            Op::State { name } => self.env.states.insert(name.clone(), t),
            _ => unreachable!("not a leaf"),
        };
        self.g.add(op, &[], shape, dtype, None)
    }

    pub fn random(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.rng.uniform(lo, hi)).collect()
    }

    /// An input uniform in `[-1, 1)`.
    pub fn input(&mut self, name: &str, dims: &[usize]) -> NodeId {
        let data = self.random(dims.iter().product(), -1.0, 1.0);
        self.leaf(Op::Input { name: name.into() }, dims, data, DType::F32)
    }

    /// An input uniform in `[0.5, 2)`.
    pub fn positive(&mut self, name: &str, dims: &[usize]) -> NodeId {
        let data = self.random(dims.iter().product(), 0.5, 2.0);
        self.leaf(Op::Input { name: name.into() }, dims, data, DType::F32)
    }

    /// An input with given data and dtype.
    pub fn input_data(&mut self, name: &str, dims: &[usize], data: Vec<f32>, dtype: DType) -> NodeId {
        self.leaf(Op::Input { name: name.into() }, dims, data, dtype)
    }

    /// A parameter uniform in `[-1, 1)`.
    pub fn param(&mut self, name: &str, dims: &[usize]) -> NodeId {
        let data = self.random(dims.iter().product(), -1.0, 1.0);
        let p = self.leaf(Op::Param { name: name.into() }, dims, data, DType::F32);
        self.params.push(p);
        p
    }

    /// A state tensor with given data.
    pub fn state(&mut self, name: &str, dims: &[usize], data: Vec<f32>) -> NodeId {
        self.leaf(Op::State { name: name.into() }, dims, data, DType::F32)
    }
}

/// A uniform constant of `dims`.
pub fn constant(g: &mut Graph, v: f32, dims: &[usize]) -> NodeId {
    g.constant(v, Shape(dims.to_vec()))
}

/// `0.5 + tanh(x)` shifted to `[0.5, 2.5]`: safe for log, sqrt, division.
pub fn positive_of(g: &mut Graph, x: NodeId) -> NodeId {
    let t = g.unary(UnaryOp::Tanh, x);
    let k = g.constant(1.5, g.shape(t).clone());
    g.binary(BinaryOp::Add, t, k)
}

/// Largest element count a random graph's node may have.
pub const MAX_NUMEL: usize = 96;

/// A random graph grown from `program` (one op per word) over a first
/// parameter; returns the last node built. Every primitive appears:
/// elementwise ops with broadcasting, compares and selects, reductions,
/// every movement op, matrix products, iota, random draws, casts, and
/// patterns the simplifier rewrites (`x * 1`, `x + 0`, double permutes,
/// reshape chains, constant arithmetic, duplicated subexpressions).
pub fn random_graph(c: &mut Case, program: &[u32]) -> NodeId {
    let random_dims =
        |c: &mut Case, rank: usize| -> Vec<usize> { (0..rank).map(|_| 1 + c.rng.below(4)).collect() };
    let rank0 = 1 + c.rng.below(3);
    let first = random_dims(c, rank0);
    let p0 = c.param("p0", &first);
    let mut pool = vec![p0];
    let mut n_new = 0;
    for &word in program {
        let x = pool[(word >> 8) as usize % pool.len()];
        let dims = c.g.shape(x).0.clone();
        let rank = dims.len();
        let numel: usize = dims.iter().product();
        let sel = (word >> 4) as usize;
        let y = match word % 16 {
            0 => {
                use UnaryOp::*;
                match [Neg, Exp, Log, Sqrt, Recip, Tanh, Sin, Cos][sel % 8] {
                    Exp => {
                        let t = c.g.unary(Tanh, x);
                        c.g.unary(Exp, t)
                    }
                    op @ (Log | Sqrt | Recip) => {
                        let p = positive_of(&mut c.g, x);
                        c.g.unary(op, p)
                    }
                    op => c.g.unary(op, x),
                }
            }
            1 | 2 => {
                let other = pool[(word >> 16) as usize % pool.len()];
                let b = match broadcast_shapes(&Shape(dims.clone()), c.g.shape(other)) {
                    Some(s) if s.numel() <= MAX_NUMEL => other,
                    _ => {
                        let skip = c.rng.below(rank + 1);
                        let bdims: Vec<usize> = dims[skip..]
                            .iter()
                            .map(|&d| if c.rng.next_f32() < 0.3 { 1 } else { d })
                            .collect();
                        n_new += 1;
                        c.param(&format!("q{n_new}"), &bdims)
                    }
                };
                use BinaryOp::*;
                match [Add, Sub, Mul, Div, Max, Min, Pow, Lt, Eq][sel % 9] {
                    Div => {
                        let den = positive_of(&mut c.g, b);
                        c.g.binary_bcast(Div, x, den)
                    }
                    Pow => {
                        let base = positive_of(&mut c.g, x);
                        let e = c.g.unary(UnaryOp::Tanh, b);
                        c.g.binary_bcast(Pow, base, e)
                    }
                    op => c.g.binary_bcast(op, x, b),
                }
            }
            3 if rank > 0 => {
                let axes: Vec<usize> = (0..rank).filter(|_| c.rng.next_f32() < 0.5).collect();
                let op = if sel.is_multiple_of(3) { ReduceOp::Max } else { ReduceOp::Sum };
                let r = c.g.reduce(op, x, &axes);
                if sel & 8 != 0 {
                    let kept: Vec<usize> = (0..rank).filter(|a| !axes.contains(a)).map(|a| dims[a]).collect();
                    c.g.reshape(r, Shape(kept))
                } else {
                    r
                }
            }
            4 if rank > 1 => {
                let mut perm: Vec<usize> = (0..rank).collect();
                c.rng.shuffle(&mut perm);
                c.g.permute(x, &perm)
            }
            5 if rank >= 2 => {
                let (m, k) = (dims[rank - 2], dims[rank - 1]);
                let n = 1 + c.rng.below(5);
                let batch: usize = dims[..rank - 2].iter().product();
                if batch * m.max(k) * n > MAX_NUMEL {
                    continue;
                }
                n_new += 1;
                if sel & 1 == 0 {
                    let mut wdims = dims[..rank - 2].to_vec();
                    wdims.extend([k, n]);
                    let w = c.param(&format!("w{n_new}"), &wdims);
                    c.g.matmul(x, w)
                } else {
                    // w[.., m, n] used transposed: x^T @ w.
                    let mut wdims = dims[..rank - 2].to_vec();
                    wdims.extend([m, n]);
                    let w = c.param(&format!("w{n_new}"), &wdims);
                    let xt = c.g.transpose_last(x);
                    c.g.matmul(xt, w)
                }
            }
            6 => {
                let target = match sel % 3 {
                    0 => vec![numel],
                    1 => dims.iter().rev().copied().collect(),
                    _ => {
                        let mut d = dims.clone();
                        d.insert(c.rng.below(rank + 1), 1);
                        d
                    }
                };
                let r = c.g.reshape(x, Shape(target));
                if sel & 8 != 0 { c.g.reshape(r, Shape(dims.clone())) } else { r }
            }
            7 if rank > 0 => {
                let ranges = dims
                    .iter()
                    .map(|&d| {
                        let start = c.rng.below(d);
                        let step = 1 + c.rng.below(2);
                        let end = start + 1 + c.rng.below(d - start);
                        SliceRange { start, end, step }
                    })
                    .collect();
                c.g.slice(x, ranges)
            }
            8 if rank > 0 => {
                let pads: Vec<(usize, usize)> =
                    dims.iter().map(|_| (c.rng.below(3), c.rng.below(3))).collect();
                let grown: usize = dims.iter().zip(&pads).map(|(d, p)| d + p.0 + p.1).product();
                if grown > MAX_NUMEL {
                    continue;
                }
                c.g.pad(x, pads)
            }
            9 if rank > 0 && numel * 2 <= MAX_NUMEL => {
                let axis = sel % rank;
                let other = pool
                    .iter()
                    .copied()
                    .find(|&o| {
                        let s = c.g.shape(o);
                        o != x && s.rank() == rank && (0..rank).all(|a| a == axis || s.0[a] == dims[a])
                    })
                    .unwrap_or(x);
                let e = c.g.unary(UnaryOp::Neg, other);
                c.g.concat(&[x, e], axis)
            }
            10 => {
                let other = pool[(word >> 16) as usize % pool.len()];
                let z = constant(&mut c.g, 0.0, &dims);
                let cond = match broadcast_shapes(&Shape(dims.clone()), c.g.shape(other)) {
                    Some(s) if s == Shape(dims.clone()) => c.g.binary_bcast(BinaryOp::Lt, other, x),
                    _ => c.g.binary(BinaryOp::Lt, z, x),
                };
                let n = c.g.unary(UnaryOp::Neg, x);
                c.g.select(cond, x, n)
            }
            11 if numel * 3 <= MAX_NUMEL => {
                let k = 2 + sel % 2;
                let mut d = dims.clone();
                d.insert(0, 1);
                let r = c.g.reshape(x, Shape(d.clone()));
                d[0] = k;
                c.g.broadcast_to(r, &Shape(d))
            }
            12 => match sel % 5 {
                0 => {
                    let one = constant(&mut c.g, 1.0, &[]);
                    c.g.mul(x, one)
                }
                1 => {
                    let zero = constant(&mut c.g, 0.0, &dims);
                    c.g.binary(BinaryOp::Add, zero, x)
                }
                2 if rank > 1 => {
                    let mut perm: Vec<usize> = (0..rank).collect();
                    c.rng.shuffle(&mut perm);
                    let p = c.g.permute(x, &perm);
                    let mut inv = vec![0; rank];
                    for (i, &q) in perm.iter().enumerate() {
                        inv[q] = i;
                    }
                    c.g.permute(p, &inv)
                }
                3 => {
                    let two = constant(&mut c.g, 2.0, &[]);
                    let three = constant(&mut c.g, 3.0, &[]);
                    let six = c.g.binary(BinaryOp::Mul, two, three);
                    let a = c.g.mul(x, six);
                    let b = c.g.mul(x, six);
                    c.g.binary(BinaryOp::Sub, a, b)
                }
                _ => {
                    let e = c.g.unary(UnaryOp::Sin, x);
                    let f = c.g.unary(UnaryOp::Sin, x);
                    c.g.binary(BinaryOp::Mul, e, f)
                }
            },
            13 if rank > 0 => {
                let axis = sel % rank;
                let iota = c.g.iota(axis, Shape(dims.clone()));
                let k = constant(&mut c.g, 0.25, &dims);
                let s = c.g.binary(BinaryOp::Mul, iota, k);
                c.g.binary(BinaryOp::Add, x, s)
            }
            14 => {
                let r = c.g.rand((word >> 20) % 3, Shape(dims.clone()));
                let half = constant(&mut c.g, 0.5, &dims);
                let keep = c.g.binary(BinaryOp::Lt, r, half);
                let z = constant(&mut c.g, 0.0, &dims);
                c.g.select(keep, x, z)
            }
            15 => {
                let k = constant(&mut c.g, 3.0, &dims);
                let s = c.g.binary(BinaryOp::Mul, x, k);
                let i = c.g.cast(s, DType::I32);
                let f = c.g.cast(i, DType::F32);
                c.g.binary(BinaryOp::Add, f, x)
            }
            _ => continue,
        };
        if c.g.shape(y).numel() <= MAX_NUMEL && c.g.shape(y).numel() > 0 {
            pool.push(y);
        }
    }
    *pool.last().expect("the pool starts with p0")
}

/// Appends `loss = sum(out * w)` (for random weights `w`) and the gradient
/// of the loss with respect to every parameter, as outputs `grad0..`.
pub fn add_gradients(c: &mut Case, out: NodeId) -> Vec<NodeId> {
    let shape = c.g.shape(out).clone();
    let w = c.input("w", &shape.0);
    let prod = c.g.binary(BinaryOp::Mul, out, w);
    let axes: Vec<usize> = (0..shape.rank()).collect();
    let loss = c.g.reduce(ReduceOp::Sum, prod, &axes);
    let loss = c.g.reshape(loss, Shape(vec![]));
    c.g.add_output("loss", loss);
    let params = c.params.clone();
    let grads = nnc::autodiff::grad(&mut c.g, loss, &params).expect("a scalar loss");
    for (i, &gr) in grads.iter().enumerate() {
        c.g.add_output(format!("grad{i}"), gr);
    }
    grads
}

/// Equal, treating NaNs as equal and `-0.0 == 0.0`.
pub fn same(a: &Tensor, b: &Tensor) -> bool {
    a.shape == b.shape && a.data.iter().zip(&b.data).all(|(x, y)| x == y || (x.is_nan() && y.is_nan()))
}
