//! Calls of the library functions ([`LibFn`]), lane by lane on vectors.

use cranelift_codegen::ir::{InstBuilder, Value, types};

use super::W;
use super::emit::Emitter;
use super::value::Val;
use crate::backend::cpu::libm::LibFn;

impl Emitter<'_> {
    /// A call to library function `f`, lane by lane.
    pub(super) fn call(&mut self, f: LibFn, args: &[Val]) -> Val {
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
