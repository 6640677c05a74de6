//! The emitter: the state of code generation for one kernel (open loops,
//! values computed so far and the scopes that release them, variable
//! ranges and loop depths), and the values hoisted before every loop.

use std::collections::HashMap;

use cranelift_codegen::ir::{FuncRef, InstBuilder, Value, types};
use cranelift_frontend::FunctionBuilder;

use super::abi::{Abi, Args};
use super::expr::absorbed_muls;
use super::loops::Frame;
use super::plan::{LoopPlan, segments};
use super::value::Val;
use crate::backend::cpu::libm::PerLibFn;
use crate::kernel::index::Var;
use crate::kernel::ir::{BufId, Expr, ExprId, LoopKernel};

/// Code generation for one kernel.
pub(super) struct Emitter<'a> {
    /// The function being built.
    pub(super) b: FunctionBuilder<'a>,
    /// The open loops, outermost first.
    pub(super) frames: Vec<Frame>,
    /// Vectors of values computed before every loop, by scalar.
    pub(super) splats: HashMap<Value, Value>,
    /// Vector masks of conditions computed before every loop.
    pub(super) masks: HashMap<ExprId, Value>,
    /// Constants made before every loop, by bits.
    pub(super) constants: HashMap<u32, Value>,
    /// The (canonical) kernel.
    pub(super) k: &'a LoopKernel,
    /// Outer variables, outermost first ([`LoopPlan::order`]).
    pub(super) order: Vec<Var>,
    /// Whether the CPU has fused multiply-add.
    pub(super) fma: bool,
    /// The library functions, declared in this function.
    pub(super) libm: PerLibFn<FuncRef>,
    pub(super) ptrs: Vec<Value>,
    pub(super) zero: Value,
    pub(super) keys: Vec<Value>,
    pub(super) buf_slot: HashMap<BufId, usize>,
    pub(super) key_slot: HashMap<u32, usize>,
    pub(super) begin: Value,
    pub(super) end: Value,
    pub(super) vars: Vec<Option<Value>>,
    pub(super) ranges: Vec<(i64, i64)>,
    pub(super) var_depth: Vec<usize>,
    pub(super) vec_var: Option<Var>,
    pub(super) inner_mode: bool,
    pub(super) lanes: i64,
    pub(super) vals: Vec<Option<Val>>,
    pub(super) log: Vec<usize>,
    pub(super) accs: Vec<Option<Val>>,
    pub(super) depth_memo: Vec<Option<usize>>,
    pub(super) absorbed: Vec<bool>,
    pub(super) segs: Vec<Vec<(i64, i64)>>,
}

impl<'a> Emitter<'a> {
    /// The emitter of kernel `k` with `plan`, writing into `b` after the
    /// entry block that loaded `args`.
    pub(super) fn new(
        b: FunctionBuilder<'a>,
        k: &'a LoopKernel,
        plan: &LoopPlan,
        fma: bool,
        libm: PerLibFn<FuncRef>,
        args: Args,
        abi: &Abi,
    ) -> Emitter<'a> {
        let Args { ptrs, zero, keys, begin, end } = args;
        let n_vars = k.extents.len();
        let mut var_depth = vec![0; n_vars];
        for (p, v) in plan.order.iter().enumerate() {
            var_depth[v.0 as usize] = p + 1;
        }
        for s in &k.stages {
            for (q, v) in s.vars.iter().enumerate() {
                var_depth[v.0 as usize] = k.outer.len() + 1 + q;
            }
        }
        let (vec_var, inner_mode) = (plan.vec_var, plan.inner);
        let n_accs = k.stages.iter().map(|s| s.reductions.len()).sum();
        let absorbed = if fma { absorbed_muls(k) } else { vec![false; k.exprs.len()] };
        Emitter {
            b,
            frames: Vec::new(),
            splats: HashMap::new(),
            masks: HashMap::new(),
            constants: HashMap::new(),
            k,
            order: plan.order.clone(),
            fma,
            libm,
            ptrs,
            zero,
            keys,
            buf_slot: abi.bufs.iter().enumerate().map(|(i, &b)| (b, i)).collect(),
            key_slot: abi.streams.iter().enumerate().map(|(i, &s)| (s, i)).collect(),
            begin,
            end,
            vars: vec![None; n_vars],
            ranges: k.extents.iter().map(|&e| (0, e - 1)).collect(),
            var_depth,
            vec_var,
            inner_mode,
            lanes: 1,
            vals: vec![None; k.exprs.len()],
            log: Vec::new(),
            accs: vec![None; n_accs],
            depth_memo: vec![None; k.exprs.len()],
            absorbed,
            segs: segments(k),
        }
    }

    // ----- scopes -----

    pub(super) fn mark(&self) -> usize {
        self.log.len()
    }

    pub(super) fn release(&mut self, mark: usize) {
        for e in self.log.drain(mark..) {
            self.vals[e] = None;
        }
    }

    pub(super) fn emit_level(&mut self, depth: usize, needed: &[ExprId]) {
        for &e in needed {
            if self.vals[e.0 as usize].is_none() && !self.absorbed[e.0 as usize] && self.depth(e) == depth {
                let v = self.emit(e);
                self.set(e, v);
            }
        }
    }

    pub(super) fn set(&mut self, e: ExprId, v: Val) {
        self.vals[e.0 as usize] = Some(v);
        self.log.push(e.0 as usize);
    }

    /// The value of an expression, emitting it here if no loop body has yet.
    pub(super) fn val(&mut self, e: ExprId) -> Val {
        let e = self.resolve(e);
        if let Some(v) = self.vals[e.0 as usize] {
            return v;
        }
        let v = self.emit(e);
        self.set(e, v);
        v
    }

    /// Before every loop of a vectorised kernel: the vector of each value
    /// already computed there, and the vector mask of each such condition
    /// a select reads, so loop bodies do not rebuild them per iteration.
    pub(super) fn hoist_vectors(&mut self, needed: &[ExprId]) {
        if self.vec_var.is_none() {
            return;
        }
        for &e in needed {
            if let Some(Val::S(x)) = self.vals[e.0 as usize]
                && !self.splats.contains_key(&x)
            {
                let v = self.b.ins().splat(types::F32X4, x);
                self.splats.insert(x, v);
            }
        }
        let k = self.k;
        for e in &k.exprs {
            if let Expr::Select(c, _, _) = e {
                let c = self.resolve(*c);
                if needed.contains(&c) && self.depth(c) == 0 && !self.masks.contains_key(&c) {
                    let m = self.mask(c);
                    let v = self.mask_vector(m);
                    self.masks.insert(c, v);
                }
            }
        }
    }
}
