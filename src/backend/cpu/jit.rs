//! Cranelift code generation for loop kernels.
//!
//! Each [`LoopKernel`] becomes one native function
//! `fn(bufs: *const *mut f32, keys: *const u64, begin: i64, end: i64)` that
//! runs the outer points whose first outer variable lies in `begin..end`, so
//! the caller can split a kernel across threads by ranges. `bufs` holds the
//! base address of each buffer the kernel touches (in [`Abi::bufs`] order)
//! followed by a zeroed 64-byte block; `keys` holds the per-step random key
//! of each stream in [`Abi::streams`].
//!
//! Code shape:
//! - One variable is vectorised 4-wide (`f32x4`): either the innermost
//!   outer variable (lanes are independent points, accumulators are
//!   vectors) or the innermost inner variable (lanes are partial sums,
//!   combined in a fixed order when the loop ends). The vector loop is
//!   followed by a scalar tail; both compute each lane with the same
//!   instructions, so results do not depend on where a range starts.
//!   Contiguous accesses are vector loads and stores; others gather lane by
//!   lane.
//! - Index conditions (pad and concat) whose bounds are constants split the
//!   loop of their variable into segments, and each segment is generated
//!   with the conditions folded away, so an im2col concat reads one input
//!   per element instead of every input under a select.
//! - Each expression is emitted once per loop body, in the outermost loop
//!   whose variables it uses: a per-row `log` of a sum runs once per row.
//! - `a * b + c` becomes a fused multiply-add when the CPU has FMA.
//! - `exp`, `log`, `tanh`, `sin`, `cos` and `pow` call the Rust functions in
//!   [`super::libm`], one lane at a time, so they match the interpreter.

use std::collections::HashMap;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::cursor::{Cursor, FuncCursor};
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    AbiParam, FuncRef, Function, InstBuilder, MemFlagsData, Signature, UserFuncName, Value, types,
};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::{Context, settings, settings::Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{FuncId, Linkage, Module, ModuleReloc};
use rayon::prelude::*;

use super::libm;
use crate::graph::semantics::mathf;
use crate::graph::{BinaryOp, ReduceOp, UnaryOp};
use crate::kernel::index::{Atom, IExpr, Var, range_with};
use crate::kernel::ir::{BufId, Cond, Expr, ExprId, LoopKernel, Stage, Store};

/// The native signature of a compiled kernel.
pub type KernelFn = unsafe extern "C" fn(*const *mut f32, *const u64, i64, i64);

/// Lanes of a vector.
const W: i64 = 4;
/// The most loop segments (over all variables) generated for one kernel.
const MAX_SEGMENTS: usize = 64;

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
                _ => {}
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
                _ => {}
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
    fn identity(&self) -> Abi {
        Abi {
            bufs: (0..self.bufs.len() as u32).map(BufId).collect(),
            offsets: vec![0; self.bufs.len()],
            streams: (0..self.streams.len() as u32).collect(),
        }
    }
}

/// A JIT module collecting compiled kernels.
pub struct Jit {
    /// Code compiled so far, by canonical kernel and plan: kernels that
    /// differ only in their buffers (the time steps of an unrolled
    /// recurrence, a prologue shared by two products) share one function.
    done: HashMap<String, FuncId>,
    /// Functions built but not yet compiled to machine code.
    pending: Vec<(FuncId, Function)>,
    module: JITModule,
    isa: OwnedTargetIsa,
    fctx: FunctionBuilderContext,
    libm: Vec<FuncId>,
    fma: bool,
    count: usize,
}

impl Jit {
    /// A module for the host CPU.
    ///
    /// Cranelift's optimiser is off: the emitter already shares repeated
    /// values and computes each index part in the outermost loop it can
    /// (see `Emitter::hoisted_base`), while the optimiser's re-placement
    /// of pure instructions moved those index computations back into the
    /// innermost loops. Off, steps are 3-7 % faster and code generation
    /// about twice as fast.
    pub fn new() -> Result<Jit, String> {
        let mut flags = settings::builder();
        for (k, v) in [("opt_level", "none"), ("use_colocated_libcalls", "false"), ("is_pic", "false")] {
            flags.set(k, v).map_err(|e| e.to_string())?;
        }
        let isa = cranelift_native::builder()
            .map_err(|e| format!("this CPU is not supported by Cranelift: {e}"))?
            .finish(settings::Flags::new(flags))
            .map_err(|e| e.to_string())?;
        let fma = isa.isa_flags().iter().any(|f| f.name == "has_fma" && f.as_bool().unwrap_or(false));
        let mut jb = JITBuilder::with_isa(isa.clone(), cranelift_module::default_libcall_names());
        for (name, _) in libm::FUNCTIONS {
            jb.symbol(*name, libm::address(name));
        }
        let mut module = JITModule::new(jb);
        let mut libm_ids = Vec::new();
        for (name, arity) in libm::FUNCTIONS {
            let mut sig = module.make_signature();
            for _ in 0..*arity {
                sig.params.push(AbiParam::new(types::F32));
            }
            sig.returns.push(AbiParam::new(types::F32));
            let id = module.declare_function(name, Linkage::Import, &sig).map_err(|e| e.to_string())?;
            libm_ids.push(id);
        }
        Ok(Jit {
            done: HashMap::new(),
            pending: Vec::new(),
            module,
            isa,
            fctx: FunctionBuilderContext::new(),
            libm: libm_ids,
            fma,
            count: 0,
        })
    }

    fn signature(&self) -> Signature {
        let mut sig = self.module.make_signature();
        for _ in 0..4 {
            sig.params.push(AbiParam::new(types::I64));
        }
        sig
    }

    /// Adds a kernel with a [`plan`]; its code is generated by [`Jit::finish`].
    pub fn compile(&mut self, k: &LoopKernel, abi: &Abi, plan: &LoopPlan) -> Result<FuncId, String> {
        let canonical = abi.canonical(k);
        let key = format!("{canonical:?}{plan:?}");
        if let Some(&id) = self.done.get(&key) {
            return Ok(id);
        }
        let (k, abi) = (&canonical, &abi.identity());
        let sig = self.signature();
        let name = format!("kernel{}", self.count);
        self.count += 1;
        let id = self.module.declare_function(&name, Linkage::Local, &sig).map_err(|e| e.to_string())?;
        let mut func = Function::with_name_signature(UserFuncName::user(0, id.as_u32()), sig);
        {
            let mut b = FunctionBuilder::new(&mut func, &mut self.fctx);
            let libm: Vec<FuncRef> =
                self.libm.iter().map(|&f| self.module.declare_func_in_func(f, b.func)).collect();
            let entry = b.create_block();
            b.append_block_params_for_function_params(entry);
            b.switch_to_block(entry);
            b.seal_block(entry);
            let params = b.block_params(entry).to_vec();
            let flags = MemFlagsData::trusted();
            let ptrs: Vec<Value> = (0..abi.bufs.len())
                .map(|i| b.ins().load(types::I64, flags, params[0], (8 * i) as i32))
                .collect();
            let zero = b.ins().load(types::I64, flags, params[0], (8 * abi.bufs.len()) as i32);
            let keys: Vec<Value> = (0..abi.streams.len())
                .map(|i| b.ins().load(types::I64, flags, params[1], (8 * i) as i32))
                .collect();
            let mut em =
                Emitter::new(b, k, plan, self.fma, libm, ptrs, zero, keys, abi, params[2], params[3]);
            // Values no loop changes (a step counter, a learning rate,
            // constants) once, before every loop.
            let needed = em.needed(em.all_roots());
            em.emit_level(0, &needed);
            em.hoist_vectors(&needed);
            em.emit_outer(0);
            em.b.ins().return_(&[]);
            em.b.finalize(self.module.target_config());
        }
        self.pending.push((id, func));
        self.done.insert(key, id);
        Ok(id)
    }

    /// Generates machine code for every kernel added (on `pool`'s threads
    /// when there is one) and links it; returns the module owning the code,
    /// and with `keep_code` a copy of each function's machine code.
    pub fn finish(
        mut self,
        pool: Option<&rayon::ThreadPool>,
        keep_code: bool,
    ) -> Result<(JITModule, Vec<crate::backend::CodeFile>), String> {
        let isa = self.isa.clone();
        let pending = std::mem::take(&mut self.pending);
        let generate =
            |(id, func): (FuncId, Function)| -> Result<(FuncId, u64, Vec<u8>, Vec<ModuleReloc>), String> {
                let mut ctx = Context::for_function(func);
                let (bytes, align, relocs) = {
                    let code = ctx
                        .compile(&*isa, &mut ControlPlane::default())
                        .map_err(|e| format!("{:?}", e.inner))?;
                    (
                        code.code_buffer().to_vec(),
                        u64::from(code.buffer.alignment),
                        code.buffer.relocs().to_vec(),
                    )
                };
                let relocs = relocs.iter().map(|r| ModuleReloc::from_mach_reloc(r, &ctx.func, id)).collect();
                Ok((id, align, bytes, relocs))
            };
        let done: Vec<_> = match pool {
            Some(pool) if pending.len() > 1 => {
                pool.install(|| pending.into_par_iter().map(generate).collect())
            }
            _ => pending.into_iter().map(generate).collect(),
        };
        // With `keep_code`, each function's machine code is returned as
        // `kernelN.bin` (`objdump -D -b binary -m i386:x86-64` reads it).
        let mut code = Vec::new();
        for r in done {
            let (id, align, bytes, relocs) = r?;
            if keep_code {
                code.push((format!("kernel{}.bin", id.as_u32()), bytes.clone()));
            }
            self.module.define_function_bytes(id, align, &bytes, &relocs).map_err(|e| e.to_string())?;
        }
        self.module.finalize_definitions().map_err(|e| e.to_string())?;
        Ok((self.module, code))
    }
}

/// The address of a compiled kernel in a finished module.
pub fn function(module: &JITModule, id: FuncId) -> KernelFn {
    let p = module.get_finalized_function(id);
    // SAFETY: `id` was defined by `Jit::compile` with exactly this signature.
    unsafe { std::mem::transmute::<*const u8, KernelFn>(p) }
}

/// A value of the current loop body: one `f32` for every lane, or a vector.
#[derive(Clone, Copy, Debug)]
enum Val {
    S(Value),
    V(Value),
}

impl Val {
    /// The scalar (for values known to be one).
    fn scalar(self) -> Value {
        match self {
            Val::S(x) => x,
            Val::V(_) => unreachable!("a vector where a scalar was expected"),
        }
    }
}

/// A condition: an `i8` boolean for every lane, or an `f32x4` of all-ones lanes.
#[derive(Clone, Copy, Debug)]
enum Mask {
    S(Value),
    V(Value),
}

/// Accumulator variables of one reduction in one stage instance.
struct AccVars {
    op: ReduceOp,
    /// Scalar accumulator, or the vector one when lanes are points.
    main: Variable,
    /// Partial sums of the vectorised inner loop.
    partial: Option<Variable>,
}

/// An open loop.
struct Frame {
    /// The variable it binds.
    var: Var,
    /// The jump into its header: code placed before it runs once per entry.
    entry: cranelift_codegen::ir::Inst,
    /// Index parts computed before the loop, by expression.
    hoisted: HashMap<IExpr, Value>,
    /// Indices computed in the loop's body (not inside a nested loop),
    /// by expression and lane.
    indices: HashMap<(IExpr, i64), Value>,
}

struct Emitter<'a> {
    b: FunctionBuilder<'a>,
    frames: Vec<Frame>,
    /// Vectors of values computed before every loop, by scalar.
    splats: HashMap<Value, Value>,
    /// Vector masks of conditions computed before every loop.
    masks: HashMap<ExprId, Value>,
    /// Constants made before every loop, by bits.
    constants: HashMap<u32, Value>,
    k: &'a LoopKernel,
    order: Vec<Var>,
    fma: bool,
    libm: Vec<FuncRef>,
    ptrs: Vec<Value>,
    zero: Value,
    keys: Vec<Value>,
    buf_slot: HashMap<BufId, usize>,
    key_slot: HashMap<u32, usize>,
    begin: Value,
    end: Value,
    vars: Vec<Option<Value>>,
    ranges: Vec<(i64, i64)>,
    var_depth: Vec<usize>,
    vec_var: Option<Var>,
    inner_mode: bool,
    lanes: i64,
    vals: Vec<Option<Val>>,
    log: Vec<usize>,
    accs: Vec<Option<Val>>,
    depth_memo: Vec<Option<usize>>,
    absorbed: Vec<bool>,
    segs: Vec<Vec<(i64, i64)>>,
}

impl<'a> Emitter<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        b: FunctionBuilder<'a>,
        k: &'a LoopKernel,
        plan: &LoopPlan,
        fma: bool,
        libm: Vec<FuncRef>,
        ptrs: Vec<Value>,
        zero: Value,
        keys: Vec<Value>,
        abi: &Abi,
        begin: Value,
        end: Value,
    ) -> Emitter<'a> {
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

    // ----- folding under the current variable ranges -----

    fn cond_truth(&self, cs: &[Cond]) -> Option<bool> {
        let mut all = true;
        for c in cs {
            let (lo, hi) = range_with(&c.index, &self.ranges);
            if hi < c.lo || lo >= c.hi {
                return Some(false);
            }
            if !(lo >= c.lo && hi < c.hi) {
                all = false;
            }
        }
        all.then_some(true)
    }

    fn live_conds(&self, cs: &[Cond]) -> Option<Vec<Cond>> {
        if self.cond_truth(cs) == Some(false) {
            return None;
        }
        Some(
            cs.iter()
                .filter(|c| {
                    let (lo, hi) = range_with(&c.index, &self.ranges);
                    !(lo >= c.lo && hi < c.hi)
                })
                .cloned()
                .collect(),
        )
    }

    fn truth(&self, c: ExprId) -> Option<bool> {
        match self.k.expr(self.resolve(c)) {
            Expr::Const(bits) => Some(f32::from_bits(*bits) != 0.0),
            Expr::Cond(cs) => self.cond_truth(cs),
            _ => None,
        }
    }

    /// `e` with selects on decided conditions replaced by the chosen operand.
    fn resolve(&self, mut e: ExprId) -> ExprId {
        while let Expr::Select(c, a, b) = self.k.expr(e) {
            match self.truth(*c) {
                Some(true) => e = *a,
                Some(false) => e = *b,
                None => break,
            }
        }
        e
    }

    /// Operands that still matter after folding.
    fn live_operands(&self, e: ExprId) -> Vec<ExprId> {
        match self.k.expr(e) {
            Expr::Load { .. } | Expr::Cond(_) => vec![],
            ex => ex.operands().into_iter().map(|o| self.resolve(o)).collect(),
        }
    }

    fn index_depth(&self, ix: &IExpr) -> usize {
        ix.vars().iter().map(|v| self.var_depth[v.0 as usize]).max().unwrap_or(0)
    }

    fn conds_depth(&self, cs: &[Cond]) -> usize {
        cs.iter().map(|c| self.index_depth(&c.index)).max().unwrap_or(0)
    }

    /// The loop depth where a resolved expression can first be computed.
    fn depth(&mut self, e: ExprId) -> usize {
        if let Some(d) = self.depth_memo[e.0 as usize] {
            return d;
        }
        let d = match self.k.expr(e) {
            Expr::Const(_) => 0,
            Expr::Load { index, guard, .. } => match self.live_conds(guard) {
                None => 0,
                Some(live) => self.index_depth(index).max(self.conds_depth(&live)),
            },
            Expr::Index(ix) | Expr::Rand { index: ix, .. } => self.index_depth(ix),
            Expr::Acc(_) => self.k.outer.len(),
            Expr::Cond(cs) => match self.live_conds(cs) {
                None => 0,
                Some(live) => self.conds_depth(&live),
            },
            Expr::Unary(..) | Expr::Binary(..) | Expr::Select(..) | Expr::Trunc(_) => {
                let ops = self.live_operands(e);
                ops.into_iter().map(|o| self.depth(o)).max().unwrap_or(0)
            }
        };
        self.depth_memo[e.0 as usize] = Some(d);
        d
    }

    fn context_changed(&mut self) {
        self.depth_memo.iter_mut().for_each(|d| *d = None);
    }

    /// The resolved expressions `roots` need, ascending.
    fn needed(&self, roots: impl IntoIterator<Item = ExprId>) -> Vec<ExprId> {
        let mut seen = vec![false; self.k.exprs.len()];
        let mut stack: Vec<ExprId> = roots.into_iter().map(|r| self.resolve(r)).collect();
        while let Some(e) = stack.pop() {
            if std::mem::replace(&mut seen[e.0 as usize], true) {
                continue;
            }
            stack.extend(self.live_operands(e));
        }
        (0..seen.len() as u32).map(ExprId).filter(|e| seen[e.0 as usize]).collect()
    }

    fn stage_roots(s: &Stage) -> Vec<ExprId> {
        s.reductions.iter().map(|r| r.value).chain(s.stores.iter().map(|st| st.value)).collect()
    }

    fn all_roots(&self) -> Vec<ExprId> {
        self.k.stages.iter().flat_map(Self::stage_roots).collect()
    }

    // ----- scopes -----

    fn mark(&self) -> usize {
        self.log.len()
    }

    fn release(&mut self, mark: usize) {
        for e in self.log.drain(mark..) {
            self.vals[e] = None;
        }
    }

    fn emit_level(&mut self, depth: usize, needed: &[ExprId]) {
        for &e in needed {
            if self.vals[e.0 as usize].is_none() && !self.absorbed[e.0 as usize] && self.depth(e) == depth {
                let v = self.emit(e);
                self.set(e, v);
            }
        }
    }

    fn set(&mut self, e: ExprId, v: Val) {
        self.vals[e.0 as usize] = Some(v);
        self.log.push(e.0 as usize);
    }

    /// The value of an expression, emitting it here if no loop body has yet.
    fn val(&mut self, e: ExprId) -> Val {
        let e = self.resolve(e);
        if let Some(v) = self.vals[e.0 as usize] {
            return v;
        }
        let v = self.emit(e);
        self.set(e, v);
        v
    }

    // ----- loops -----

    /// Opens the loop over `v` from `lo` while `i + step <= hi`.
    fn loop_begin(
        &mut self,
        v: Var,
        lo: Value,
        hi: Value,
        step: i64,
    ) -> (Variable, cranelift_codegen::ir::Block, cranelift_codegen::ir::Block, Value, Value) {
        let var = self.b.declare_var(types::I64);
        self.b.def_var(var, lo);
        let header = self.b.create_block();
        let body = self.b.create_block();
        let exit = self.b.create_block();
        let entry = self.b.ins().jump(header, &[]);
        self.frames.push(Frame { var: v, entry, hoisted: HashMap::new(), indices: HashMap::new() });
        self.b.switch_to_block(header);
        let i = self.b.use_var(var);
        let next = self.b.ins().iadd_imm_s(i, step);
        let c = self.b.ins().icmp(IntCC::SignedLessThanOrEqual, next, hi);
        self.b.ins().brif(c, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        self.b.seal_block(body);
        (var, header, exit, i, next)
    }

    fn loop_end(
        &mut self,
        l: (Variable, cranelift_codegen::ir::Block, cranelift_codegen::ir::Block, Value, Value),
    ) -> Value {
        let (var, header, exit, _, next) = l;
        self.frames.pop();
        self.b.def_var(var, next);
        self.b.ins().jump(header, &[]);
        self.b.seal_block(header);
        self.b.switch_to_block(exit);
        self.b.seal_block(exit);
        self.b.use_var(var)
    }

    /// Loops over outer variable `p` and everything inside it.
    fn emit_outer(&mut self, p: usize) {
        if p == self.order.len() {
            self.emit_point();
            return;
        }
        let v = self.order[p];
        let full = self.ranges[v.0 as usize];
        for (a, z) in self.segs[v.0 as usize].clone() {
            let (mut lo, mut hi) = (self.b.ins().iconst(types::I64, a), self.b.ins().iconst(types::I64, z));
            if p == 0 {
                lo = self.b.ins().smax(lo, self.begin);
                hi = self.b.ins().smin(hi, self.end);
            }
            self.ranges[v.0 as usize] = (a, z - 1);
            self.context_changed();
            let vectorised = self.vec_var == Some(v) && !self.inner_mode;
            let mut start = lo;
            for step in if vectorised { vec![W, 1] } else { vec![1] } {
                self.lanes = step;
                let mark = self.mark();
                let l = self.loop_begin(v, start, hi, step);
                self.vars[v.0 as usize] = Some(l.3);
                if p + 1 < self.order.len() {
                    // The innermost outer body is filled stage by stage, after
                    // the accumulators each stage reads.
                    let needed = self.needed(self.all_roots());
                    self.emit_level(p + 1, &needed);
                }
                self.emit_outer(p + 1);
                self.release(mark);
                start = self.loop_end(l);
            }
            self.lanes = 1;
            self.ranges[v.0 as usize] = full;
            self.context_changed();
        }
    }

    /// The stages of one outer point (or one vector of points).
    fn emit_point(&mut self) {
        let depth = self.k.outer.len();
        let k = self.k;
        for s in &k.stages {
            let needed = self.needed(Self::stage_roots(s));
            self.emit_level(depth, &needed);
            if s.vars.is_empty() {
                for r in &s.reductions {
                    let init = self.identity(r.op);
                    let v = self.val(r.value);
                    let res = self.combine(r.op, init, v);
                    self.accs[r.acc.0 as usize] = Some(res);
                }
                for st in &s.stores {
                    self.emit_store(st);
                }
                continue;
            }
            let mut vars = Vec::new();
            for r in &s.reductions {
                let init = self.identity(r.op);
                let main = if self.lanes == W {
                    let var = self.b.declare_var(types::F32X4);
                    let x = self.vector(init);
                    self.b.def_var(var, x);
                    var
                } else {
                    let var = self.b.declare_var(types::F32);
                    let Val::S(x) = init else { unreachable!("identities are scalars") };
                    self.b.def_var(var, x);
                    var
                };
                let partial = (self.inner_mode && self.vec_var.is_some()).then(|| {
                    let var = self.b.declare_var(types::F32X4);
                    let x = self.vector(init);
                    self.b.def_var(var, x);
                    var
                });
                vars.push(AccVars { op: r.op, main, partial });
            }
            self.emit_stage(s, 0, &vars);
            for (r, av) in s.reductions.iter().zip(&vars) {
                let main = self.b.use_var(av.main);
                let mut res = if self.lanes == W { Val::V(main) } else { Val::S(main) };
                if let Some(p) = av.partial {
                    let p = self.b.use_var(p);
                    let h = self.horizontal(av.op, p);
                    res = self.combine(av.op, Val::S(h), res);
                }
                self.accs[r.acc.0 as usize] = Some(res);
            }
        }
    }

    /// Loops over stage variable `q` of `s` and everything inside it.
    fn emit_stage(&mut self, s: &Stage, q: usize, accs: &[AccVars]) {
        if q == s.vars.len() {
            for (r, av) in s.reductions.iter().zip(accs) {
                self.emit_accumulate(r.value, av);
            }
            for st in &s.stores {
                self.emit_store(st);
            }
            return;
        }
        let v = s.vars[q];
        let depth = self.k.outer.len() + 1 + q;
        let full = self.ranges[v.0 as usize];
        let outer_lanes = self.lanes;
        for (a, z) in self.segs[v.0 as usize].clone() {
            let lo = self.b.ins().iconst(types::I64, a);
            let hi = self.b.ins().iconst(types::I64, z);
            self.ranges[v.0 as usize] = (a, z - 1);
            self.context_changed();
            let vectorised = self.vec_var == Some(v) && self.inner_mode;
            let mut start = lo;
            for step in if vectorised { vec![W, 1] } else { vec![1] } {
                if vectorised {
                    self.lanes = step;
                }
                let mark = self.mark();
                let l = self.loop_begin(v, start, hi, step);
                self.vars[v.0 as usize] = Some(l.3);
                let needed = self.needed(Self::stage_roots(s));
                self.emit_level(depth, &needed);
                self.emit_stage(s, q + 1, accs);
                self.release(mark);
                start = self.loop_end(l);
            }
            self.lanes = outer_lanes;
            self.ranges[v.0 as usize] = full;
            self.context_changed();
        }
    }

    fn emit_accumulate(&mut self, value: ExprId, av: &AccVars) {
        let target = match (av.partial, self.lanes) {
            (Some(p), W) => p,
            _ => av.main,
        };
        let acc = self.b.use_var(target);
        let vector = self.lanes == W;
        let value = self.resolve(value);
        let new = match (av.op, self.fma_operands(value)) {
            (ReduceOp::Sum, Some((x, y))) => {
                let (x, y) = (self.val(x), self.val(y));
                if vector {
                    let (x, y) = (self.vector(x), self.vector(y));
                    self.b.ins().fma(x, y, acc)
                } else {
                    let (Val::S(x), Val::S(y)) = (x, y) else { unreachable!("scalar body") };
                    self.b.ins().fma(x, y, acc)
                }
            }
            _ => {
                let v = self.val(value);
                let a = if vector { Val::V(acc) } else { Val::S(acc) };
                match self.combine(av.op, a, v) {
                    Val::S(x) | Val::V(x) => x,
                }
            }
        };
        self.b.def_var(target, new);
    }

    fn identity(&mut self, op: ReduceOp) -> Val {
        let v = match op {
            ReduceOp::Sum => 0.0,
            ReduceOp::Max => f32::NEG_INFINITY,
        };
        Val::S(self.b.ins().f32const(v))
    }

    fn combine(&mut self, op: ReduceOp, acc: Val, v: Val) -> Val {
        match op {
            ReduceOp::Sum => self.arith(BinaryOp::Add, acc, v),
            ReduceOp::Max => {
                // acc = v > acc || v is NaN ? v : acc, as the interpreter does.
                let gt = self.fcmp(FloatCC::GreaterThan, v, acc);
                let nan = self.fcmp(FloatCC::Unordered, v, v);
                let m = self.mask_or(gt, nan);
                self.select(m, v, acc)
            }
        }
    }

    fn horizontal(&mut self, op: ReduceOp, v: Value) -> Value {
        let lanes: Vec<Value> = (0..W as u8).map(|l| self.b.ins().extractlane(v, l)).collect();
        match op {
            ReduceOp::Sum => {
                let a = self.b.ins().fadd(lanes[0], lanes[1]);
                let b = self.b.ins().fadd(lanes[2], lanes[3]);
                self.b.ins().fadd(a, b)
            }
            ReduceOp::Max => {
                let mut acc = Val::S(lanes[0]);
                for &l in &lanes[1..] {
                    acc = self.combine(op, acc, Val::S(l));
                }
                let Val::S(x) = acc else { unreachable!("scalar lanes") };
                x
            }
        }
    }

    // ----- expressions -----

    fn fma_operands(&self, e: ExprId) -> Option<(ExprId, ExprId)> {
        match self.k.expr(e) {
            Expr::Binary(BinaryOp::Mul, a, b) if self.fma && self.absorbed[e.0 as usize] => Some((*a, *b)),
            _ => None,
        }
    }

    fn emit(&mut self, e: ExprId) -> Val {
        let k = self.k;
        match k.expr(e) {
            Expr::Const(bits) => Val::S(self.b.ins().f32const(f32::from_bits(*bits))),
            Expr::Load { buf, index, guard } => self.emit_load(*buf, index, guard),
            Expr::Index(ix) => self.per_lane_if_varying(ix, &mut |em, lane| {
                let i = em.index(ix, lane);
                em.b.ins().fcvt_from_sint(types::F32, i)
            }),
            Expr::Rand { stream, index } => {
                let key = self.keys[self.key_slot[stream]];
                self.per_lane_if_varying(index, &mut |em, lane| {
                    let i = em.index(index, lane);
                    em.uniform(key, i)
                })
            }
            Expr::Acc(a) => self.accs[a.0 as usize].expect("accumulators are read after their stage"),
            Expr::Cond(_) => {
                let m = self.mask(e);
                self.mask_value(m)
            }
            Expr::Unary(u, a) => {
                let x = self.val(*a);
                match u {
                    UnaryOp::Neg => self.map1(x, |b, v| b.ins().fneg(v)),
                    UnaryOp::Sqrt => self.map1(x, |b, v| b.ins().sqrt(v)),
                    UnaryOp::Recip => {
                        let one = Val::S(self.b.ins().f32const(1.0));
                        self.arith(BinaryOp::Div, one, x)
                    }
                    UnaryOp::Exp if self.fma => self.exp(x),
                    UnaryOp::Tanh if self.fma => self.tanh(x),
                    UnaryOp::Exp => self.call(0, &[x]),
                    UnaryOp::Log => self.call(1, &[x]),
                    UnaryOp::Tanh => self.call(2, &[x]),
                    UnaryOp::Sin => self.call(3, &[x]),
                    UnaryOp::Cos => self.call(4, &[x]),
                }
            }
            Expr::Binary(op, a, b) => match op {
                BinaryOp::Add | BinaryOp::Sub => {
                    let (ra, rb) = (self.resolve(*a), self.resolve(*b));
                    if let Some((x, y)) = self.fma_operands(ra) {
                        let (x, y) = (self.val(x), self.val(y));
                        let c = self.val(rb);
                        let c = if *op == BinaryOp::Sub { self.map1(c, |b, v| b.ins().fneg(v)) } else { c };
                        return self.fma3(x, y, c);
                    }
                    if let Some((x, y)) = self.fma_operands(rb) {
                        let (x, y) = (self.val(x), self.val(y));
                        let x = if *op == BinaryOp::Sub { self.map1(x, |b, v| b.ins().fneg(v)) } else { x };
                        let c = self.val(ra);
                        return self.fma3(x, y, c);
                    }
                    let (x, y) = (self.val(ra), self.val(rb));
                    self.arith(*op, x, y)
                }
                BinaryOp::Mul | BinaryOp::Div => {
                    let (x, y) = (self.val(*a), self.val(*b));
                    self.arith(*op, x, y)
                }
                BinaryOp::Max | BinaryOp::Min => {
                    // `x >= y ? x : y` (`<=` for min), NaN if either is.
                    let (ge, gt) = if *op == BinaryOp::Max {
                        (FloatCC::GreaterThanOrEqual, FloatCC::GreaterThan)
                    } else {
                        (FloatCC::LessThanOrEqual, FloatCC::LessThan)
                    };
                    let number = |e: ExprId| matches!(self.k.expr(self.resolve(e)), Expr::Const(c) if !f32::from_bits(*c).is_nan());
                    let (a_number, b_number) = (number(*a), number(*b));
                    let (x, y) = (self.val(*a), self.val(*b));
                    if a_number {
                        // A NaN `y` fails the comparison and is chosen.
                        let m = self.fcmp(ge, x, y);
                        return self.select(m, x, y);
                    }
                    if b_number {
                        // The same as `y > x ? y : x` (ties give `x`), which
                        // chooses a NaN `x`.
                        let m = self.fcmp(gt, y, x);
                        return self.select(m, y, x);
                    }
                    let m = self.fcmp(ge, x, y);
                    let r = self.select(m, x, y);
                    let nan = self.fcmp(FloatCC::Unordered, x, x);
                    self.select(nan, x, r)
                }
                BinaryOp::Pow => {
                    let (x, y) = (self.val(*a), self.val(*b));
                    self.call(5, &[x, y])
                }
                BinaryOp::Lt | BinaryOp::Eq => {
                    let m = self.mask(e);
                    self.mask_value(m)
                }
            },
            Expr::Select(c, a, b) => {
                let hoisted = self.masks.get(&self.resolve(*c)).copied().filter(|_| self.lanes == W);
                let m = match hoisted {
                    Some(v) => Mask::V(v),
                    None => self.mask(*c),
                };
                let (x, y) = (self.val(*a), self.val(*b));
                self.select(m, x, y)
            }
            Expr::Trunc(a) => {
                let x = self.val(*a);
                self.map1(x, |b, v| b.ins().trunc(v))
            }
        }
    }

    /// An `f32` constant, made once before every loop (with its vector in a
    /// vectorised kernel) and shared by every later use.
    fn constant(&mut self, c: f32) -> Val {
        if let Some(&x) = self.constants.get(&c.to_bits()) {
            return Val::S(x);
        }
        let vector = self.vec_var.is_some();
        let (x, v) = match self.frames.first() {
            // Before the outermost open loop, which precedes all later code.
            Some(f) => {
                let mut cur = FuncCursor::new(self.b.func).at_inst(f.entry);
                let x = cur.ins().f32const(c);
                (x, vector.then(|| cur.ins().splat(types::F32X4, x)))
            }
            // Not in a loop yet: here precedes every loop.
            None => {
                let x = self.b.ins().f32const(c);
                (x, vector.then(|| self.b.ins().splat(types::F32X4, x)))
            }
        };
        if let Some(v) = v {
            self.splats.insert(x, v);
        }
        self.constants.insert(c.to_bits(), x);
        Val::S(x)
    }

    /// [`mathf::exp`], operation for operation (needs fused multiply-add).
    fn exp(&mut self, x: Val) -> Val {
        let (hi, lo) = (self.constant(mathf::EXP_HI), self.constant(mathf::EXP_LO));
        let m = self.fcmp(FloatCC::GreaterThan, x, hi);
        let x = self.select(m, hi, x);
        let m = self.fcmp(FloatCC::LessThan, x, lo);
        let x = self.select(m, lo, x);
        let log2e = self.constant(mathf::LOG2E);
        let t = self.arith(BinaryOp::Mul, x, log2e);
        let k = self.map1(t, |b, v| b.ins().nearest(v));
        let nk = self.map1(k, |b, v| b.ins().fneg(v));
        let c = self.constant(mathf::LN2_HI);
        let r = self.fma3(nk, c, x);
        let c = self.constant(mathf::LN2_LO);
        let r = self.fma3(nk, c, r);
        let mut p = self.constant(mathf::EXP_POLY[0]);
        for &c in &mathf::EXP_POLY[1..] {
            let c = self.constant(c);
            p = self.fma3(p, r, c);
        }
        let one = self.constant(1.0);
        p = self.fma3(p, r, one);
        p = self.fma3(p, r, one);
        // 2^k as two normal halves.
        let vector = matches!(p, Val::V(_)) || matches!(k, Val::V(_));
        let (ity, fty) = if vector { (types::I32X4, types::F32X4) } else { (types::I32, types::F32) };
        let kf = if vector { self.vector(k) } else { k.scalar() };
        let ki = self.b.ins().fcvt_to_sint_sat(ity, kf);
        let k1 = self.b.ins().sshr_imm_s(ki, 1);
        let k2 = self.b.ins().isub(ki, k1);
        let mut scale = |e: Value| {
            let bias = self.b.ins().iconst(types::I32, 127);
            let bias = if vector { self.b.ins().splat(ity, bias) } else { bias };
            let biased = self.b.ins().iadd(e, bias);
            let bits = self.b.ins().ishl_imm_s(biased, 23);
            let flags = MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little);
            let f = self.b.ins().bitcast(fty, flags, bits);
            if vector { Val::V(f) } else { Val::S(f) }
        };
        let (s1, s2) = (scale(k1), scale(k2));
        let y = self.arith(BinaryOp::Mul, p, s1);
        self.arith(BinaryOp::Mul, y, s2)
    }

    /// [`mathf::tanh`], operation for operation.
    fn tanh(&mut self, x: Val) -> Val {
        let x2 = self.arith(BinaryOp::Mul, x, x);
        let mut q = self.constant(mathf::TANH_POLY[0]);
        for &c in &mathf::TANH_POLY[1..] {
            let c = self.constant(c);
            q = self.fma3(q, x2, c);
        }
        let x3 = self.arith(BinaryOp::Mul, x, x2);
        let small = self.fma3(x3, q, x);
        let a = self.map1(x, |b, v| b.ins().fabs(v));
        let a2 = self.arith(BinaryOp::Add, a, a);
        let e = self.exp(a2);
        let one = self.constant(1.0);
        let two = self.constant(2.0);
        let d = self.arith(BinaryOp::Add, e, one);
        let f = self.arith(BinaryOp::Div, two, d);
        let large = self.arith(BinaryOp::Sub, one, f);
        let limit = self.constant(mathf::TANH_SMALL);
        let m = self.fcmp(FloatCC::LessThan, a, limit);
        let r = self.select(m, small, large);
        match (r, x) {
            (Val::S(r), Val::S(x)) => Val::S(self.b.ins().fcopysign(r, x)),
            (r, x) => {
                // No vector copysign on x86-64: the magnitude's bits with
                // the sign bit of x.
                let (r, x) = (self.vector(r), self.vector(x));
                let sign = self.b.ins().f32const(-0.0);
                let sign = self.b.ins().splat(types::F32X4, sign);
                let magnitude = self.b.ins().band_not(r, sign);
                let s = self.b.ins().band(x, sign);
                Val::V(self.b.ins().bor(magnitude, s))
            }
        }
    }

    fn fma3(&mut self, x: Val, y: Val, c: Val) -> Val {
        match (x, y, c) {
            (Val::S(x), Val::S(y), Val::S(c)) => Val::S(self.b.ins().fma(x, y, c)),
            _ => {
                let (x, y, c) = (self.vector(x), self.vector(y), self.vector(c));
                Val::V(self.b.ins().fma(x, y, c))
            }
        }
    }

    fn vector(&mut self, v: Val) -> Value {
        match v {
            Val::V(x) => x,
            Val::S(x) => match self.splats.get(&x) {
                Some(&v) => v,
                None => self.b.ins().splat(types::F32X4, x),
            },
        }
    }

    /// Before every loop of a vectorised kernel: the vector of each value
    /// already computed there, and the vector mask of each such condition
    /// a select reads, so loop bodies do not rebuild them per iteration.
    fn hoist_vectors(&mut self, needed: &[ExprId]) {
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

    fn map1(&mut self, x: Val, f: impl Fn(&mut FunctionBuilder<'a>, Value) -> Value) -> Val {
        match x {
            Val::S(v) => Val::S(f(&mut self.b, v)),
            Val::V(v) => Val::V(f(&mut self.b, v)),
        }
    }

    fn arith(&mut self, op: BinaryOp, x: Val, y: Val) -> Val {
        let (x, y, vector) = match (x, y) {
            (Val::S(x), Val::S(y)) => (x, y, false),
            (x, y) => (self.vector(x), self.vector(y), true),
        };
        let r = match op {
            BinaryOp::Add => self.b.ins().fadd(x, y),
            BinaryOp::Sub => self.b.ins().fsub(x, y),
            BinaryOp::Mul => self.b.ins().fmul(x, y),
            BinaryOp::Div => self.b.ins().fdiv(x, y),
            _ => unreachable!("arith handles the four operations"),
        };
        if vector { Val::V(r) } else { Val::S(r) }
    }

    fn fcmp(&mut self, cc: FloatCC, x: Val, y: Val) -> Mask {
        match (x, y) {
            (Val::S(x), Val::S(y)) => Mask::S(self.b.ins().fcmp(cc, x, y)),
            (x, y) => {
                let (x, y) = (self.vector(x), self.vector(y));
                let m = self.b.ins().fcmp(cc, x, y);
                Mask::V(self.b.ins().bitcast(
                    types::F32X4,
                    MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little),
                    m,
                ))
            }
        }
    }

    fn mask_vector(&mut self, m: Mask) -> Value {
        match m {
            Mask::V(x) => x,
            Mask::S(b) => {
                let ones = self.b.ins().iconst(types::I32, -1);
                let zero = self.b.ins().iconst(types::I32, 0);
                let s = self.b.ins().select(b, ones, zero);
                let v = self.b.ins().splat(types::I32X4, s);
                self.b.ins().bitcast(
                    types::F32X4,
                    MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little),
                    v,
                )
            }
        }
    }

    fn mask_or(&mut self, a: Mask, b: Mask) -> Mask {
        match (a, b) {
            (Mask::S(a), Mask::S(b)) => Mask::S(self.b.ins().bor(a, b)),
            (a, b) => {
                let (a, b) = (self.mask_vector(a), self.mask_vector(b));
                Mask::V(self.b.ins().bor(a, b))
            }
        }
    }

    fn select(&mut self, m: Mask, x: Val, y: Val) -> Val {
        match (m, x, y) {
            (Mask::S(c), Val::S(x), Val::S(y)) => Val::S(self.b.ins().select(c, x, y)),
            (Mask::S(c), x, y) => {
                let (x, y) = (self.vector(x), self.vector(y));
                Val::V(self.b.ins().select(c, x, y))
            }
            (Mask::V(c), x, y) => {
                let (x, y) = (self.vector(x), self.vector(y));
                Val::V(self.b.ins().bitselect(c, x, y))
            }
        }
    }

    fn mask_value(&mut self, m: Mask) -> Val {
        match m {
            Mask::S(c) => {
                let one = self.b.ins().f32const(1.0);
                let zero = self.b.ins().f32const(0.0);
                Val::S(self.b.ins().select(c, one, zero))
            }
            Mask::V(c) => {
                let one = self.b.ins().f32const(1.0);
                let one = self.b.ins().splat(types::F32X4, one);
                Val::V(self.b.ins().band(c, one))
            }
        }
    }

    /// The condition `c != 0`, computed directly from a comparison when it is one.
    fn mask(&mut self, c: ExprId) -> Mask {
        let c = self.resolve(c);
        match self.k.expr(c) {
            Expr::Binary(BinaryOp::Lt, a, b) => {
                let (x, y) = (self.val(*a), self.val(*b));
                self.fcmp(FloatCC::LessThan, x, y)
            }
            Expr::Binary(BinaryOp::Eq, a, b) => {
                let (x, y) = (self.val(*a), self.val(*b));
                self.fcmp(FloatCC::Equal, x, y)
            }
            Expr::Cond(cs) => {
                let Some(live) = self.live_conds(cs) else {
                    let f = self.b.ins().iconst(types::I8, 0);
                    return Mask::S(f);
                };
                if self.lanes == W && self.conds_vary(&live) {
                    let lanes: Vec<Value> = (0..W).map(|l| self.conds_true(&live, l)).collect();
                    let ones = self.b.ins().iconst(types::I32, -1);
                    let zero = self.b.ins().iconst(types::I32, 0);
                    let first = self.b.ins().select(lanes[0], ones, zero);
                    let mut v = self.b.ins().splat(types::I32X4, first);
                    for (l, &b) in lanes.iter().enumerate().skip(1) {
                        let s = self.b.ins().select(b, ones, zero);
                        v = self.b.ins().insertlane(v, s, l as u8);
                    }
                    Mask::V(self.b.ins().bitcast(
                        types::F32X4,
                        MemFlagsData::new().with_endianness(cranelift_codegen::ir::Endianness::Little),
                        v,
                    ))
                } else {
                    Mask::S(self.conds_true(&live, 0))
                }
            }
            _ => {
                let x = self.val(c);
                let zero = Val::S(self.b.ins().f32const(0.0));
                self.fcmp(FloatCC::NotEqual, x, zero)
            }
        }
    }

    fn varies(&self, ix: &IExpr) -> bool {
        self.lanes == W && self.vec_var.is_some_and(|v| ix.mentions(v))
    }

    fn conds_vary(&self, cs: &[Cond]) -> bool {
        cs.iter().any(|c| self.varies(&c.index))
    }

    /// All conditions hold at `lane` (an `i8`).
    fn conds_true(&mut self, cs: &[Cond], lane: i64) -> Value {
        let mut acc = self.b.ins().iconst(types::I8, 1);
        for c in cs {
            let x = self.index(&c.index, lane);
            let a = self.b.ins().icmp_imm_s(IntCC::SignedGreaterThanOrEqual, x, c.lo);
            let b = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x, c.hi);
            let both = self.b.ins().band(a, b);
            acc = self.b.ins().band(acc, both);
        }
        acc
    }

    /// The loop (position in `frames`) that binds `v`.
    fn frame_of(&self, v: Var) -> usize {
        self.frames.iter().rposition(|f| f.var == v).expect("variables are bound by their loops")
    }

    /// The constant and the terms of `ix` in variables of loops outside the
    /// innermost loop `ix` depends on (other than the vectorised variable),
    /// computed once before that loop starts rather than on every
    /// iteration; with the terms left to compute in place.
    fn hoisted_base(&mut self, ix: &IExpr) -> (Option<Value>, Vec<(Atom, i64)>) {
        let frame = |e: &Self, a: &Atom| a.vars().into_iter().map(|v| e.frame_of(v)).max();
        let Some(inner) = ix.terms.iter().filter_map(|(a, _)| frame(self, a)).max() else {
            return (None, ix.terms.clone());
        };
        let (outer, rest): (Vec<_>, Vec<_>) = ix.terms.iter().cloned().partition(|(a, _)| match a {
            Atom::Var(v) => self.vec_var != Some(*v) && self.frame_of(*v) < inner,
            _ => false,
        });
        if outer.is_empty() {
            return (None, ix.terms.clone());
        }
        let base = IExpr { terms: outer, constant: ix.constant };
        if let Some(&v) = self.frames[inner].hoisted.get(&base) {
            return (Some(v), rest);
        }
        let vals: Vec<(Value, i64)> = base
            .terms
            .iter()
            .map(|(a, c)| match a {
                Atom::Var(v) => (self.vars[v.0 as usize].expect("bound by an outer loop"), *c),
                _ => unreachable!("only variables are hoisted"),
            })
            .collect();
        // Insert right before the jump into the inner loop, where every
        // outer variable is defined.
        let mut cur = FuncCursor::new(self.b.func).at_inst(self.frames[inner].entry);
        let mut acc = cur.ins().iconst(types::I64, base.constant);
        for (x, c) in vals {
            let t = if c == 1 { x } else { cur.ins().imul_imm_s(x, c) };
            acc = cur.ins().iadd(acc, t);
        }
        self.frames[inner].hoisted.insert(base, acc);
        (Some(acc), rest)
    }

    /// The value of an index at `lane` of the current vector (an `i64`).
    fn index(&mut self, ix: &IExpr, lane: i64) -> Value {
        // The same index in the same loop body (loads and stores of
        // several buffers at one element) is computed once.
        if let Some(&v) = self.frames.last().and_then(|f| f.indices.get(&(ix.clone(), lane))) {
            return v;
        }
        let v = self.compute_index(ix, lane);
        if let Some(f) = self.frames.last_mut() {
            f.indices.insert((ix.clone(), lane), v);
        }
        v
    }

    fn compute_index(&mut self, ix: &IExpr, lane: i64) -> Value {
        let (base, terms) = self.hoisted_base(ix);
        let mut acc = match base {
            Some(b) => b,
            None => self.b.ins().iconst(types::I64, ix.constant),
        };
        for (atom, c) in &terms {
            let x = match atom {
                Atom::Var(v) => {
                    let x = self.vars[v.0 as usize].expect("variables are bound by their loops");
                    if lane != 0 && self.vec_var == Some(*v) && self.lanes == W {
                        self.b.ins().iadd_imm_s(x, lane)
                    } else {
                        x
                    }
                }
                Atom::Div(inner, d) => {
                    let x = self.index(inner, lane);
                    self.floor_divmod(x, *d).0
                }
                Atom::Mod(inner, d) => {
                    let x = self.index(inner, lane);
                    self.floor_divmod(x, *d).1
                }
            };
            let t = if *c == 1 { x } else { self.b.ins().imul_imm_s(x, *c) };
            acc = self.b.ins().iadd(acc, t);
        }
        acc
    }

    fn floor_divmod(&mut self, x: Value, d: i64) -> (Value, Value) {
        let q = self.b.ins().sdiv_imm_s(x, d);
        let r = self.b.ins().srem_imm_s(x, d);
        let neg = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, r, 0);
        let q1 = self.b.ins().iadd_imm_s(q, -1);
        let r1 = self.b.ins().iadd_imm_s(r, d);
        (self.b.ins().select(neg, q1, q), self.b.ins().select(neg, r1, r))
    }

    /// A scalar per lane when the index varies across lanes, else one scalar.
    fn per_lane_if_varying(&mut self, ix: &IExpr, f: &mut dyn FnMut(&mut Self, i64) -> Value) -> Val {
        if !self.varies(ix) {
            return Val::S(f(self, 0));
        }
        let first = f(self, 0);
        let mut v = self.b.ins().splat(types::F32X4, first);
        for l in 1..W {
            let s = f(self, l);
            v = self.b.ins().insertlane(v, s, l as u8);
        }
        Val::V(v)
    }

    /// `rng::uniform` from the stream's per-step key and an element index.
    fn uniform(&mut self, key: Value, index: Value) -> Value {
        let x = self.b.ins().bxor(key, index);
        let mut z = self.b.ins().iadd_imm_s(x, 0x9E37_79B9_7F4A_7C15u64 as i64);
        for (shift, mul) in [(30, 0xBF58_476D_1CE4_E5B9u64), (27, 0x94D0_49BB_1331_11EBu64)] {
            let s = self.b.ins().ushr_imm_s(z, shift);
            let t = self.b.ins().bxor(z, s);
            z = self.b.ins().imul_imm_s(t, mul as i64);
        }
        let s = self.b.ins().ushr_imm_s(z, 31);
        let h = self.b.ins().bxor(z, s);
        let top = self.b.ins().ushr_imm_s(h, 40);
        let f = self.b.ins().fcvt_from_uint(types::F32, top);
        let scale = self.b.ins().f32const(1.0 / (1u32 << 24) as f32);
        self.b.ins().fmul(f, scale)
    }

    /// The vectorised variable's coefficient when `ix` is affine in it and
    /// the lane offsets fit an immediate.
    fn affine_stride(&self, ix: &IExpr) -> Option<i64> {
        let v = self.vec_var?;
        let c = ix.coefficient(v);
        (!ix.mentions_nonlinearly(v) && (4 * c * W).abs() < i32::MAX as i64).then_some(c)
    }

    fn address(&mut self, buf: BufId, index: Value) -> Value {
        let base = self.ptrs[self.buf_slot[&buf]];
        let off = self.b.ins().ishl_imm_s(index, 2);
        self.b.ins().iadd(base, off)
    }

    fn emit_load(&mut self, buf: BufId, index: &IExpr, guard: &[Cond]) -> Val {
        let Some(live) = self.live_conds(guard) else {
            return Val::S(self.b.ins().f32const(0.0));
        };
        let flags = MemFlagsData::new().with_notrap();
        let varying = self.varies(index) || self.conds_vary(&live);
        let contiguous =
            self.vec_var.is_some_and(|v| index.coefficient(v) == 1 && !index.mentions_nonlinearly(v));
        if !varying || (contiguous && !self.conds_vary(&live)) {
            let i = self.index(index, 0);
            let mut addr = self.address(buf, i);
            if !live.is_empty() {
                let ok = self.conds_true(&live, 0);
                addr = self.b.ins().select(ok, addr, self.zero);
            }
            let ty = if varying { types::F32X4 } else { types::F32 };
            let v = self.b.ins().load(ty, flags, addr, 0);
            return if varying { Val::V(v) } else { Val::S(v) };
        }
        let mut lanes = Vec::with_capacity(W as usize);
        let stride = self.affine_stride(index);
        if let (Some(c), false) = (stride, self.conds_vary(&live)) {
            // Lane l is `4 * c * l` bytes further: one address, immediate offsets.
            let i = self.index(index, 0);
            let mut addr = self.address(buf, i);
            if !live.is_empty() {
                let ok = self.conds_true(&live, 0);
                addr = self.b.ins().select(ok, addr, self.zero);
                // A failed guard reads the zero block, whose lanes are all 0.
                let zero_ok = self.b.ins().iconst(types::I64, 0);
                let step = self.b.ins().iconst(types::I64, 4 * c);
                let step = self.b.ins().select(ok, step, zero_ok);
                for l in 0..W {
                    let off = self.b.ins().imul_imm_s(step, l);
                    let a = self.b.ins().iadd(addr, off);
                    lanes.push(self.b.ins().load(types::F32, flags, a, 0));
                }
            } else {
                for l in 0..W {
                    lanes.push(self.b.ins().load(types::F32, flags, addr, (4 * c * l) as i32));
                }
            }
        } else {
            for l in 0..W {
                let i = self.index(index, l);
                let mut addr = self.address(buf, i);
                if !live.is_empty() {
                    let ok = self.conds_true(&live, l);
                    addr = self.b.ins().select(ok, addr, self.zero);
                }
                lanes.push(self.b.ins().load(types::F32, flags, addr, 0));
            }
        }
        let mut v = self.b.ins().splat(types::F32X4, lanes[0]);
        for (l, &s) in lanes.iter().enumerate().skip(1) {
            v = self.b.ins().insertlane(v, s, l as u8);
        }
        Val::V(v)
    }

    fn emit_store(&mut self, st: &Store) {
        let v = self.val(st.value);
        let flags = MemFlagsData::new().with_notrap();
        if self.lanes == W && self.varies(&st.index) {
            let contiguous = self
                .vec_var
                .is_some_and(|v| st.index.coefficient(v) == 1 && !st.index.mentions_nonlinearly(v));
            if contiguous {
                let x = self.vector(v);
                let i = self.index(&st.index, 0);
                let addr = self.address(st.buf, i);
                self.b.ins().store(flags, x, addr, 0);
            } else {
                let stride = self.affine_stride(&st.index);
                let base = stride.map(|_| {
                    let i = self.index(&st.index, 0);
                    self.address(st.buf, i)
                });
                for l in 0..W {
                    let s = match v {
                        Val::S(x) => x,
                        Val::V(x) => self.b.ins().extractlane(x, l as u8),
                    };
                    match (base, stride) {
                        (Some(addr), Some(c)) => {
                            self.b.ins().store(flags, s, addr, (4 * c * l) as i32);
                        }
                        _ => {
                            let i = self.index(&st.index, l);
                            let addr = self.address(st.buf, i);
                            self.b.ins().store(flags, s, addr, 0);
                        }
                    }
                }
            }
            return;
        }
        let s = match v {
            Val::S(x) => x,
            Val::V(x) => self.b.ins().extractlane(x, 0),
        };
        let i = self.index(&st.index, 0);
        let addr = self.address(st.buf, i);
        self.b.ins().store(flags, s, addr, 0);
    }

    /// A call to a function of [`libm`], lane by lane.
    fn call(&mut self, f: usize, args: &[Val]) -> Val {
        let func = self.libm[f];
        if args.iter().all(|a| matches!(a, Val::S(_))) {
            let xs: Vec<Value> =
                args.iter().map(|a| if let Val::S(x) = a { *x } else { unreachable!() }).collect();
            let call = self.b.ins().call(func, &xs);
            return Val::S(self.b.inst_results(call)[0]);
        }
        let vs: Vec<Value> = args.iter().map(|&a| self.vector(a)).collect();
        let mut out = None;
        for l in 0..W as u8 {
            let xs: Vec<Value> = vs.iter().map(|&v| self.b.ins().extractlane(v, l)).collect();
            let call = self.b.ins().call(func, &xs);
            let r = self.b.inst_results(call)[0];
            out = Some(match out {
                None => self.b.ins().splat(types::F32X4, r),
                Some(v) => self.b.ins().insertlane(v, r, l),
            });
        }
        Val::V(out.expect("four lanes"))
    }
}

/// Multiplications used only by one addition, subtraction or sum
/// reduction, which fold into a fused multiply-add there.
fn absorbed_muls(k: &LoopKernel) -> Vec<bool> {
    let mut uses = vec![0u32; k.exprs.len()];
    for e in &k.exprs {
        for o in e.operands() {
            uses[o.0 as usize] += 1;
        }
    }
    for s in &k.stages {
        for r in &s.reductions {
            uses[r.value.0 as usize] += 1;
        }
        for st in &s.stores {
            uses[st.value.0 as usize] += 1;
        }
    }
    let is_mul = |e: ExprId| matches!(k.expr(e), Expr::Binary(BinaryOp::Mul, ..)) && uses[e.0 as usize] == 1;
    let mut absorbed = vec![false; k.exprs.len()];
    for e in &k.exprs {
        if let Expr::Binary(BinaryOp::Add | BinaryOp::Sub, a, b) = e {
            if is_mul(*a) {
                absorbed[a.0 as usize] = true;
            } else if is_mul(*b) {
                absorbed[b.0 as usize] = true;
            }
        }
    }
    for r in k.stages.iter().flat_map(|s| &s.reductions) {
        if r.op == ReduceOp::Sum && is_mul(r.value) {
            absorbed[r.value.0 as usize] = true;
        }
    }
    absorbed
}

/// How a loop kernel is generated: the order of its outer loops (the
/// first is the one callers split into ranges) and the vectorised variable.
#[derive(Clone, Debug, PartialEq)]
pub struct LoopPlan {
    /// Outer variables, outermost first: the kernel's own order with the
    /// vectorised outer variable, if any, moved innermost.
    pub order: Vec<Var>,
    /// The variable computed four lanes at a time.
    pub vec_var: Option<Var>,
    /// Whether `vec_var` is an inner (reduced) variable.
    pub inner: bool,
}

/// Chooses the vectorised variable: the outer or inner variable whose
/// loads and stores are most often contiguous (gathers and scatters count
/// against). With `keep_first` (GEMM epilogues, which callers split along
/// their first variable), the first outer variable stays first.
pub fn plan(k: &LoopKernel, keep_first: bool) -> LoopPlan {
    let score = |v: Var, inner_only: bool| -> i64 {
        let mut s = 0;
        let mut count = |ix: &IExpr, store: bool| {
            let c = ix.coefficient(v);
            if ix.mentions_nonlinearly(v) {
                s -= 2;
            } else if c == 1 {
                s += 2;
            } else if c != 0 {
                s -= if store { 2 } else { 1 };
            }
        };
        for st in k.stages.iter().filter(|s| !inner_only || !s.vars.is_empty()) {
            for e in k.stage_exprs(st) {
                if let Expr::Load { index, .. } = k.expr(e) {
                    count(index, false);
                }
            }
            for store in &st.stores {
                count(&store.index, true);
            }
        }
        s
    };
    let segs = segments(k);
    let long = |v: Var| segs[v.0 as usize].iter().map(|(a, z)| z - a).max().unwrap_or(0) >= W;
    let first = usize::from(keep_first);
    let best_outer = k.outer[first.min(k.outer.len())..]
        .iter()
        .copied()
        .filter(|&v| long(v))
        .map(|v| (score(v, false), v))
        .max_by_key(|&(sc, v)| (sc, std::cmp::Reverse(v)));
    let inner = k.stages.iter().find_map(|s| s.vars.last().copied()).filter(|&v| long(v));
    // Outer loops from the largest total stride to the smallest, so the
    // innermost loop walks memory in the smallest steps (the first loop,
    // which callers split, stays first with `keep_first`).
    let stride = |v: Var| -> i64 {
        let mut t = 0;
        for e in &k.exprs {
            if let Expr::Load { index, .. } = e {
                t += index.coefficient(v).abs();
            }
        }
        t + k.stages.iter().flat_map(|s| &s.stores).map(|st| st.index.coefficient(v).abs()).sum::<i64>()
    };
    let mut order = k.outer.clone();
    let pinned = order.drain(..first.min(order.len())).collect::<Vec<_>>();
    order.sort_by_key(|&v| std::cmp::Reverse(stride(v)));
    order.splice(0..0, pinned);
    let choose_outer = |order: &mut Vec<Var>, v: Var| {
        order.retain(|&w| w != v);
        order.push(v);
        LoopPlan { order: order.clone(), vec_var: Some(v), inner: false }
    };
    match (best_outer, inner) {
        (Some((so, _)), Some(vi))
            if k.extents[vi.0 as usize] >= 2 * W && score(vi, true) > 0 && score(vi, true) >= so =>
        {
            LoopPlan { order, vec_var: Some(vi), inner: true }
        }
        (Some((so, vo)), _) if so > 0 => choose_outer(&mut order, vo),
        (_, Some(vi)) if score(vi, true) > 0 => LoopPlan { order, vec_var: Some(vi), inner: true },
        // Mostly gathers and scatters: scalar code does less work.
        _ => LoopPlan { order, vec_var: None, inner: false },
    }
}

/// Loop segments of each variable: constant bounds of index conditions on
/// that variable alone cut its range, as long as the total number of
/// segments stays below [`MAX_SEGMENTS`].
fn segments(k: &LoopKernel) -> Vec<Vec<(i64, i64)>> {
    let n = k.extents.len();
    let mut cuts: Vec<Vec<i64>> = vec![Vec::new(); n];
    let mut add = |c: &Cond| {
        if let Some((v, from, to)) = c.var_range() {
            cuts[v.0 as usize].extend([from, to]);
        }
    };
    for e in &k.exprs {
        match e {
            Expr::Load { guard, .. } => guard.iter().for_each(&mut add),
            Expr::Cond(cs) => cs.iter().for_each(&mut add),
            _ => {}
        }
    }
    let mut order: Vec<Var> = k.outer.clone();
    for s in &k.stages {
        for v in &s.vars {
            if !order.contains(v) {
                order.push(*v);
            }
        }
    }
    let mut segs: Vec<Vec<(i64, i64)>> = k.extents.iter().map(|&e| vec![(0, e)]).collect();
    let mut total = 1;
    for v in order {
        let e = k.extents[v.0 as usize];
        let mut c: Vec<i64> = cuts[v.0 as usize].iter().copied().filter(|&x| x > 0 && x < e).collect();
        c.sort_unstable();
        c.dedup();
        if c.is_empty() || total * (c.len() + 1) > MAX_SEGMENTS {
            continue;
        }
        total *= c.len() + 1;
        let mut bounds = vec![0];
        bounds.extend(c);
        bounds.push(e);
        segs[v.0 as usize] = bounds.windows(2).map(|w| (w[0], w[1])).collect();
    }
    segs
}
