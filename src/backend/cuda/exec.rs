//! Running a generated PTX module on a [`Device`]: binding buffers,
//! launching the program's kernels in order, and applying outputs and
//! updates to the environment exactly as `interp::step` does.
//!
//! Memory. Every parameter, state and input tensor has its own device
//! buffer; temporaries share one arena laid out by the driver's memory
//! plan; one `u32` status word reports a gather or scatter-add index
//! outside its table.
//!
//! Transfers. Parameters and state stay on the device between runs: the
//! executable keeps a host copy of what each device buffer holds and
//! uploads a tensor only when the environment's value differs from it (the
//! first run, after another executable or the trainer changed it, or after
//! a run without `update` wrote an in-place target). Inputs are uploaded
//! every run. After a run it downloads the named outputs, the status word
//! and, with `update`, the updated parameters and state, so `Env` stays the
//! source of truth as for every other back end.

use std::collections::HashMap;

use super::device::{Device, DeviceError, DevicePtr};
use super::{Param, PtxModule};
use crate::backend::{Env, EvalError, FeedKind, Tensor};
use crate::compile::Compiled;
use crate::graph::semantics::rng;
use crate::kernel::ir::{BufId, BufKind, Kernel, Program};

/// A program compiled to PTX and loaded on a device.
pub struct CudaExecutable<D: Device> {
    device: D,
    compiled: Compiled,
    module: PtxModule,
    /// The device address of each buffer (0 for a temporary nothing uses).
    addrs: Vec<DevicePtr>,
    /// What each parameter and state buffer holds on the device, when known.
    resident: HashMap<BufId, Vec<f32>>,
    /// Targets updated in place whose device copy is newer than the host's:
    /// they stay on the device until [`CudaExecutable::sync`].
    device_newer: Vec<BufId>,
    status: DevicePtr,
}

impl<D: Device> CudaExecutable<D> {
    /// Loads `module` (generated from `compiled`'s program) on `device` and
    /// allocates every buffer.
    pub fn new(
        mut device: D,
        compiled: Compiled,
        module: PtxModule,
    ) -> Result<CudaExecutable<D>, DeviceError> {
        let kernels = compiled.kernels.as_ref().expect("the CUDA target asks for kernels");
        device.load(&module.text)?;
        let arena = device.alloc(4 * kernels.memory.arena.max(1))?;
        let mut addrs = Vec::with_capacity(kernels.program.buffers.len());
        for (i, b) in kernels.program.buffers.iter().enumerate() {
            addrs.push(match b.kind {
                BufKind::Temp => kernels.memory.offsets[i].map_or(0, |off| arena + 4 * off as u64),
                BufKind::Input(_) | BufKind::Param(_) | BufKind::State(_) => {
                    device.alloc(4 * b.numel().max(1))?
                }
            });
        }
        let status = device.alloc(4)?;
        Ok(CudaExecutable {
            device,
            compiled,
            module,
            addrs,
            resident: HashMap::new(),
            device_newer: Vec::new(),
            status,
        })
    }

    /// The generated module.
    pub fn module(&self) -> &PtxModule {
        &self.module
    }

    fn program(&self) -> &Program {
        &self.compiled.kernels.as_ref().expect("checked by new").program
    }

    /// Uploads inputs, and parameters and state the device does not hold.
    fn bind(&mut self, env: &Env) -> Result<(), EvalError> {
        let kernels = self.compiled.kernels.as_ref().expect("checked by new");
        for (i, b) in kernels.program.buffers.iter().enumerate() {
            let (kind, name) = match &b.kind {
                BufKind::Temp => continue,
                BufKind::Input(n) => (FeedKind::Input, n),
                BufKind::Param(n) => (FeedKind::Param, n),
                BufKind::State(n) => (FeedKind::State, n),
            };
            let t = env.feed(kind, name, &b.shape)?;
            let id = BufId(i as u32);
            if kind != FeedKind::Input
                && (self.device_newer.contains(&id)
                    || self.resident.get(&id).is_some_and(|held| held == &t.data))
            {
                continue;
            }
            self.device.upload(self.addrs[i], &t.data).map_err(device_error)?;
            if kind != FeedKind::Input {
                self.resident.insert(id, t.data.clone());
            }
        }
        Ok(())
    }

    /// Launches every kernel of the program, in order.
    fn launch_all(&mut self, env: &Env) -> Result<(), EvalError> {
        let program = &self.compiled.kernels.as_ref().expect("checked by new").program;
        self.device.zero(self.status, 4).map_err(device_error)?;
        let mut params = Vec::new();
        for l in &self.module.launches {
            params.clear();
            params.extend(l.params.iter().map(|p| match p {
                Param::Buffer { buf, offset, .. } => self.addrs[buf.0 as usize] + 4 * *offset as u64,
                Param::StreamKey { stream } => rng::stream_key(env.seed, env.step, *stream),
                Param::Status => self.status,
            }));
            debug_assert!(l.kernel < program.kernels.len());
            self.device.launch(&l.entry, l.grid, l.block, &params).map_err(device_error)?;
        }
        Ok(())
    }

    /// The error a non-zero status word stands for: the first index of the
    /// reported kernel outside its table.
    fn index_error(&mut self, status: u32) -> EvalError {
        let position = status as usize - 1;
        let (node, idx, bound) = match self.program().kernels.get(position) {
            Some(Kernel::Gather(g)) => (g.node, g.idx, g.rows),
            Some(Kernel::ScatterAdd(s)) => (s.node, s.idx, s.rows),
            _ => {
                return device_error(DeviceError::Other(format!(
                    "the status word holds {status}, not a gather"
                )));
            }
        };
        let mut values = vec![0.0; self.program().buffer(idx).numel()];
        if let Err(e) = self.device.download(self.addrs[idx.0 as usize], &mut values) {
            return device_error(e);
        }
        let index = values
            .into_iter()
            .find(|&v| !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < bound))
            .unwrap_or(f32::NAN);
        EvalError::IndexOutOfRange { node, index, bound }
    }

    fn read(&mut self, b: BufId) -> Result<Tensor, EvalError> {
        let shape = self.program().buffer(b).shape.clone();
        let mut data = vec![0.0; shape.numel()];
        self.device.download(self.addrs[b.0 as usize], &mut data).map_err(device_error)?;
        Ok(Tensor::new(shape, data))
    }

    /// Runs the program once; see [`crate::backend::Executable::run`].
    /// Parameters and state updated in place stay on the device until
    /// [`CudaExecutable::sync`], so a training step downloads only its
    /// outputs (the loss and the model's output).
    pub fn run_step(&mut self, env: &mut Env, update: bool) -> Result<HashMap<String, Tensor>, EvalError> {
        // A run without updates still writes in-place targets on the
        // device, so their newer values come home first.
        if !update {
            self.sync(env)?;
        }
        self.bind(env)?;
        self.launch_all(env)?;
        let mut status = [0.0f32];
        self.device.download(self.status, &mut status).map_err(device_error)?;
        let status = status[0].to_bits();
        if status != 0 {
            return Err(self.index_error(status));
        }
        let program = std::sync::Arc::clone(&self.compiled.kernels.as_ref().expect("checked by new").program);
        let mut outputs = HashMap::new();
        for (name, b) in &program.outputs {
            outputs.insert(name.clone(), self.read(*b)?);
        }
        // A target written in place no longer holds what the host copy says.
        for &(t, v) in &program.updates {
            if t == v {
                self.resident.remove(&t);
            }
        }
        if update {
            // Targets updated in place stay on the device; values computed
            // elsewhere are read before any target is written, as the
            // interpreter does.
            let mut values = Vec::new();
            for &(t, v) in &program.updates {
                if t != v {
                    values.push((t, self.read(v)?));
                } else if !self.device_newer.contains(&t) {
                    self.device_newer.push(t);
                }
            }
            for (t, value) in values {
                store(env, &program, t, &value.data);
            }
            env.step += 1;
        }
        Ok(outputs)
    }

    /// Downloads the parameters and state that steps updated on the device
    /// into `env`; see [`crate::backend::Executable::sync`].
    pub fn sync(&mut self, env: &mut Env) -> Result<(), EvalError> {
        let program = std::sync::Arc::clone(&self.compiled.kernels.as_ref().expect("checked by new").program);
        for t in std::mem::take(&mut self.device_newer) {
            let value = self.read(t)?;
            store(env, &program, t, &value.data);
            self.resident.insert(t, value.data);
        }
        Ok(())
    }

    /// What the driver produced.
    pub fn compiled(&self) -> &Compiled {
        &self.compiled
    }
}

/// Writes `data` into the host copy of target `t`.
fn store(env: &mut Env, program: &Program, t: BufId, data: &[f32]) {
    let (map, name) = match &program.buffer(t).kind {
        BufKind::Param(n) => (&mut env.params, n),
        BufKind::State(n) => (&mut env.states, n),
        BufKind::Input(_) | BufKind::Temp => unreachable!("updates target params and state"),
    };
    if let Some(slot) = map.get_mut(name) {
        slot.data.copy_from_slice(data);
    }
}

fn device_error(e: DeviceError) -> EvalError {
    EvalError::Device(e)
}
