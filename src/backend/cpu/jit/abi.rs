//! The compiled kernel's calling convention: its native signature, the
//! buffer and stream tables it reads (and the canonical form kernels share
//! code by), and the loads of its arguments in the entry block.

use cranelift_codegen::ir::{AbiParam, InstBuilder, MemFlagsData, Signature, Value, types};
use cranelift_frontend::FunctionBuilder;
use cranelift_jit::JITModule;
use cranelift_module::Module;

use crate::kernel::ir::{BufId, Expr, LoopKernel};

/// The native signature of a compiled kernel.
pub type KernelFn = unsafe extern "C" fn(*const *mut f32, *const u64, i64, i64);

/// Which buffers and random streams a compiled kernel expects, in order.
#[derive(Clone, Debug, PartialEq)]
pub struct Abi {
    /// Buffers, in the order of the `bufs` table.
    pub bufs: Vec<BufId>,
    /// Added to each buffer's address (in elements) in the `bufs` table:
    /// the smallest constant of the kernel's indices into that buffer,
    /// which the compiled code leaves out.
    pub offsets: Vec<i64>,
    /// Random streams, in the order of the `keys` table.
    pub streams: Vec<u32>,
}

impl Abi {
    /// The tables a kernel reads, each buffer and stream in order of first
    /// use (loads in pool order, then stores), so kernels that differ only
    /// in which buffers they touch get the same slots and can share code.
    pub fn of(k: &LoopKernel) -> Abi {
        let mut bufs: Vec<BufId> = Vec::new();
        let mut offsets: Vec<i64> = Vec::new();
        let mut streams = Vec::new();
        let mut see = |b: BufId, c: i64| match bufs.iter().position(|&x| x == b) {
            Some(i) => offsets[i] = offsets[i].min(c),
            None => {
                bufs.push(b);
                offsets.push(c);
            }
        };
        for e in &k.exprs {
            match e {
                Expr::Load { buf, index, .. } => see(*buf, index.constant),
                Expr::Rand { stream, .. } if !streams.contains(stream) => streams.push(*stream),
                Expr::Rand { .. }
                | Expr::Const(_)
                | Expr::Index(_)
                | Expr::Acc(_)
                | Expr::Cond(_)
                | Expr::Unary(..)
                | Expr::Binary(..)
                | Expr::Select(..)
                | Expr::Trunc(_) => {}
            }
        }
        for st in k.stages.iter().flat_map(|s| &s.stores) {
            see(st.buf, st.index.constant);
        }
        Abi { bufs, offsets, streams }
    }

    /// The kernel as compiled: every buffer replaced by its slot, its
    /// indices shifted by the slot's offset, every stream replaced by its
    /// index. Kernels with equal canonical forms (the time steps of an
    /// unrolled recurrence, reading different slices of the same tensors)
    /// share one function, each with its own tables.
    pub fn canonical(&self, k: &LoopKernel) -> LoopKernel {
        let slot = |b: BufId| self.bufs.iter().position(|&x| x == b).expect("listed");
        let index = |s: u32| self.streams.iter().position(|&x| x == s).expect("listed") as u32;
        let mut c = k.clone();
        c.nodes.clear();
        for e in &mut c.exprs {
            match e {
                Expr::Load { buf, index: ix, .. } => {
                    let i = slot(*buf);
                    *buf = BufId(i as u32);
                    ix.constant -= self.offsets[i];
                }
                Expr::Rand { stream, .. } => *stream = index(*stream),
                Expr::Const(_)
                | Expr::Index(_)
                | Expr::Acc(_)
                | Expr::Cond(_)
                | Expr::Unary(..)
                | Expr::Binary(..)
                | Expr::Select(..)
                | Expr::Trunc(_) => {}
            }
        }
        for st in c.stages.iter_mut().flat_map(|s| s.stores.iter_mut()) {
            let i = slot(st.buf);
            st.buf = BufId(i as u32);
            st.index.constant -= self.offsets[i];
        }
        c
    }

    /// The tables of the canonical kernel: slots and stream indices.
    pub(super) fn identity(&self) -> Abi {
        Abi {
            bufs: (0..self.bufs.len() as u32).map(BufId).collect(),
            offsets: vec![0; self.bufs.len()],
            streams: (0..self.streams.len() as u32).collect(),
        }
    }
}

/// The native signature of every kernel: four pointer-sized integers.
pub(super) fn signature(module: &JITModule) -> Signature {
    let mut sig = module.make_signature();
    for _ in 0..4 {
        sig.params.push(AbiParam::new(types::I64));
    }
    sig
}

/// A kernel's arguments, as its entry block loads them.
pub(super) struct Args {
    /// The address of each buffer, in [`Abi::bufs`] order.
    pub(super) ptrs: Vec<Value>,
    /// The zeroed block after the buffers, read by failed guards.
    pub(super) zero: Value,
    /// The key of each random stream, in [`Abi::streams`] order.
    pub(super) keys: Vec<Value>,
    /// The first point of the range to run.
    pub(super) begin: Value,
    /// The end of the range to run.
    pub(super) end: Value,
}

/// Opens the entry block of a kernel with tables `abi` and loads its arguments.
pub(super) fn enter(b: &mut FunctionBuilder, abi: &Abi) -> Args {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    b.seal_block(entry);
    let params = b.block_params(entry).to_vec();
    let flags = MemFlagsData::trusted();
    let ptrs: Vec<Value> =
        (0..abi.bufs.len()).map(|i| b.ins().load(types::I64, flags, params[0], (8 * i) as i32)).collect();
    let zero = b.ins().load(types::I64, flags, params[0], (8 * abi.bufs.len()) as i32);
    let keys: Vec<Value> =
        (0..abi.streams.len()).map(|i| b.ins().load(types::I64, flags, params[1], (8 * i) as i32)).collect();
    Args { ptrs, zero, keys, begin: params[2], end: params[3] }
}
