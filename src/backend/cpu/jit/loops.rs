//! Loop nests: the outer loops (the first bounded by the caller's range,
//! the vectorised one followed by its scalar tail), the stages of each
//! point and their inner loops, each loop cut into the segments where its
//! index conditions are decided.

use std::collections::HashMap;

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};
use cranelift_frontend::Variable;

use super::W;
use super::emit::Emitter;
use super::reduce::AccVars;
use crate::kernel::index::{IExpr, Var};
use crate::kernel::ir::Stage;

/// An open loop.
pub(super) struct Frame {
    /// The variable it binds.
    pub(super) var: Var,
    /// The jump into its header: code placed before it runs once per entry.
    pub(super) entry: cranelift_codegen::ir::Inst,
    /// Index parts computed before the loop, by expression.
    pub(super) hoisted: HashMap<IExpr, Value>,
    /// Indices computed in the loop's body (not inside a nested loop),
    /// by expression and lane.
    pub(super) indices: HashMap<(IExpr, i64), Value>,
}

impl Emitter<'_> {
    /// Opens the loop over `v` from `lo` while `i + step <= hi`.
    pub(super) fn loop_begin(
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

    pub(super) fn loop_end(
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
    pub(super) fn emit_outer(&mut self, p: usize) {
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
    pub(super) fn emit_point(&mut self) {
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
            let vars = self.open_accumulators(s);
            self.emit_stage(s, 0, &vars);
            self.close_accumulators(s, &vars);
        }
    }

    /// Loops over stage variable `q` of `s` and everything inside it.
    pub(super) fn emit_stage(&mut self, s: &Stage, q: usize, accs: &[AccVars]) {
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
}
