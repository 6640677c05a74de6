//! Loads and stores: contiguous accesses as vector loads and stores,
//! strided ones at immediate offsets, others lane by lane, and guarded
//! loads redirected to the zero block.

use cranelift_codegen::ir::{InstBuilder, MemFlagsData, Value, types};

use super::W;
use super::emit::Emitter;
use super::value::Val;
use crate::kernel::index::IExpr;
use crate::kernel::ir::{BufId, Cond, Store};

impl Emitter<'_> {
    pub(super) fn address(&mut self, buf: BufId, index: Value) -> Value {
        let base = self.ptrs[self.buf_slot[&buf]];
        let off = self.b.ins().ishl_imm_s(index, 2);
        self.b.ins().iadd(base, off)
    }

    pub(super) fn emit_load(&mut self, buf: BufId, index: &IExpr, guard: &[Cond]) -> Val {
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

    pub(super) fn emit_store(&mut self, st: &Store) {
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
}
