//! Optimizers as graph operations appended to the training step.
//!
//! Each update follows the PyTorch definition line by line (including the
//! order of floating-point operations where it affects the last bit), so a
//! run from the same weights and batches tracks `torch.optim` closely.
//! Optimizer state (momentum buffers, Adam moments, the step counter and the
//! learning rate) lives in `State` nodes that persist between steps.

use crate::graph::{BinaryOp, DType, Graph, NodeId, Op, Shape, UnaryOp};
use crate::sema::blocks::Optimizer;

/// Name of the scalar state holding the number of steps taken so far.
pub const STEP: &str = "@step";
/// Name of the scalar state holding the current learning rate (set by the runtime per epoch).
pub const LR: &str = "@lr";

/// A persistent optimizer buffer: its state name and shape (zero-initialised).
#[derive(Clone, Debug, PartialEq)]
pub struct StateSpec {
    /// Unique name, `param.kind`.
    pub name: String,
    /// Shape.
    pub shape: Shape,
}

/// Appends the update of every `(param node, param name, gradient node)`
/// and returns the state tensors it introduced (besides [`STEP`] and [`LR`]).
pub fn append(g: &mut Graph, opt: &Optimizer, params: &[(NodeId, String, NodeId)]) -> Vec<StateSpec> {
    let mut states = Vec::new();
    let scalar = Shape::default();
    let step = g.add(Op::State { name: STEP.into() }, &[], scalar.clone(), DType::F32, None);
    let lr = g.add(Op::State { name: LR.into() }, &[], scalar.clone(), DType::F32, None);
    let one = g.constant(1.0, scalar.clone());
    let t = g.binary(BinaryOp::Add, step, one);
    g.add_update(step, t);
    let mut state = |g: &mut Graph, name: String, shape: &Shape| {
        states.push(StateSpec { name: name.clone(), shape: shape.clone() });
        g.add(Op::State { name }, &[], shape.clone(), DType::F32, None)
    };
    for (p, name, grad) in params {
        let shape = g.shape(*p).clone();
        let new_p = match *opt {
            Optimizer::Sgd { momentum, dampening, nesterov, weight_decay, .. } => {
                let mut d = *grad;
                if weight_decay != 0.0 {
                    let wp = g.scale(*p, weight_decay as f32);
                    d = g.add_(d, wp);
                }
                if momentum != 0.0 {
                    let buf = state(g, format!("{name}.momentum_buffer"), &shape);
                    // torch: the first step sets buf = d; later ones buf = m*buf + (1-dampening)*d.
                    let mb = g.scale(buf, momentum as f32);
                    let dd = if dampening != 0.0 { g.scale(d, (1.0 - dampening) as f32) } else { d };
                    let later = g.add_(mb, dd);
                    let zero = g.constant(0.0, scalar.clone());
                    let first = g.binary(BinaryOp::Eq, step, zero);
                    let first = g.broadcast_to(first, &shape);
                    let new_buf = g.select(first, d, later);
                    g.add_update(buf, new_buf);
                    d = if nesterov {
                        let mbuf = g.scale(new_buf, momentum as f32);
                        g.add_(d, mbuf)
                    } else {
                        new_buf
                    };
                }
                let lrd = g.mul(d, lr);
                g.binary(BinaryOp::Sub, *p, lrd)
            }
            Optimizer::Adam { beta1, beta2, eps, weight_decay, decoupled, .. } => {
                let mut d = *grad;
                let mut p0 = *p;
                if weight_decay != 0.0 {
                    if decoupled {
                        // p *= 1 - lr * wd
                        let wd = g.constant(weight_decay as f32, scalar.clone());
                        let lrwd = g.binary(BinaryOp::Mul, lr, wd);
                        let keep = g.binary(BinaryOp::Sub, one, lrwd);
                        p0 = g.mul(*p, keep);
                    } else {
                        let wp = g.scale(*p, weight_decay as f32);
                        d = g.add_(d, wp);
                    }
                }
                let m = state(g, format!("{name}.exp_avg"), &shape);
                let v = state(g, format!("{name}.exp_avg_sq"), &shape);
                // m = m + (1 - b1) * (d - m)   (torch's lerp form)
                let dm = g.binary(BinaryOp::Sub, d, m);
                let dm = g.scale(dm, (1.0 - beta1) as f32);
                let new_m = g.binary(BinaryOp::Add, m, dm);
                // v = b2 * v + (1 - b2) * d * d
                let vb = g.scale(v, beta2 as f32);
                let dd = g.binary(BinaryOp::Mul, d, d);
                let dd = g.scale(dd, (1.0 - beta2) as f32);
                let new_v = g.binary(BinaryOp::Add, vb, dd);
                g.add_update(m, new_m);
                g.add_update(v, new_v);
                // bias corrections with t = step + 1
                let b1 = g.constant(beta1 as f32, scalar.clone());
                let b2 = g.constant(beta2 as f32, scalar.clone());
                let b1t = g.binary(BinaryOp::Pow, b1, t);
                let b2t = g.binary(BinaryOp::Pow, b2, t);
                let bc1 = g.binary(BinaryOp::Sub, one, b1t);
                let bc2 = g.binary(BinaryOp::Sub, one, b2t);
                let step_size = g.binary(BinaryOp::Div, lr, bc1);
                let sbc2 = g.unary(UnaryOp::Sqrt, bc2);
                // denom = sqrt(v) / sqrt(bc2) + eps
                let sv = g.unary(UnaryOp::Sqrt, new_v);
                let sbc2 = g.broadcast_to(sbc2, &shape);
                let denom = g.binary(BinaryOp::Div, sv, sbc2);
                let e = g.constant(eps as f32, shape.clone());
                let denom = g.binary(BinaryOp::Add, denom, e);
                let ratio = g.binary(BinaryOp::Div, new_m, denom);
                let upd = g.mul(ratio, step_size);
                g.binary(BinaryOp::Sub, p0, upd)
            }
        };
        g.add_update(*p, new_p);
    }
    states
}
