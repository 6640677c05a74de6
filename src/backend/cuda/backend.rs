//! The CUDA back end behind the [`Backend`] boundary: the driver's kernel
//! program (without the CPU's cache blocking), emitted as PTX, loaded on a
//! [`Device`] and run there.

use std::collections::HashMap;
use std::time::Instant;

use super::device::{Device, DeviceError};
use super::exec::CudaExecutable;
use super::{Arch, EmitOptions};
use crate::backend::{Backend, CodeFile, Env, EvalError, ExecStats, Executable, Tensor};
use crate::compile::{Compiled, KernelPasses, Target};
use crate::diag::{Code, Diagnostic};

/// The CUDA target, as the compile driver sees it: fusion and in-place
/// updates, no cache blocking (a GPU streams operands through shared
/// memory instead).
pub fn target() -> Target {
    Target { name: "cuda", kernels: Some(KernelPasses { blocking: None }) }
}

/// Opens a device for each executable.
type Open<D> = Box<dyn Fn() -> Result<D, DeviceError> + Send + Sync>;

/// The CUDA back end over devices of type `D`.
pub struct Cuda<D: Device> {
    arch: Arch,
    open: Open<D>,
}

impl<D: Device> Cuda<D> {
    /// A back end emitting for `arch` at most (older when the device's
    /// compute capability asks for it), on devices `open` returns.
    pub fn new(arch: Arch, open: impl Fn() -> Result<D, DeviceError> + Send + Sync + 'static) -> Cuda<D> {
        Cuda { arch, open: Box::new(open) }
    }

    /// Compiles the driver's output into the concrete executable type.
    pub fn load_cuda(&self, compiled: Compiled) -> Result<Loaded<D>, Diagnostic> {
        let t0 = Instant::now();
        let Some(kernels) = &compiled.kernels else {
            return Err(Diagnostic::error_nowhere(Code::BACKEND, "the CUDA back end needs a kernel program"));
        };
        let device = (self.open)().map_err(|e| device_diagnostic(&e))?;
        let arch = match device.compute_capability() {
            None => self.arch,
            Some((major, minor)) => match Arch::for_capability(major, minor) {
                Some(a) => a.min(self.arch),
                None => {
                    return Err(device_diagnostic(&DeviceError::NoDevice(format!(
                        "GPU 0 has compute capability {major}.{minor}; nnc's PTX needs 8.0 (sm_80) or newer"
                    ))));
                }
            },
        };
        let module = super::emit(&kernels.program, &EmitOptions { arch }).map_err(|e| e.diagnostic())?;
        let ptx = module.text.clone();
        let exe = CudaExecutable::new(device, compiled, module).map_err(|e| device_diagnostic(&e))?;
        let code = vec![("module.ptx".to_string(), ptx.into_bytes())];
        Ok(Loaded { exe, code, codegen_ms: t0.elapsed().as_secs_f64() * 1000.0 })
    }
}

/// A loaded CUDA executable with its PTX.
pub struct Loaded<D: Device> {
    exe: CudaExecutable<D>,
    code: Vec<CodeFile>,
    codegen_ms: f64,
}

impl<D: Device> Loaded<D> {
    /// The executable.
    pub fn executable(&self) -> &CudaExecutable<D> {
        &self.exe
    }
}

impl<D: Device> Executable for Loaded<D> {
    fn run(&mut self, env: &mut Env, update: bool) -> Result<HashMap<String, Tensor>, EvalError> {
        self.exe.run_step(env, update)
    }

    fn sync(&mut self, env: &mut Env) -> Result<(), EvalError> {
        self.exe.sync(env)
    }

    fn compiled(&self) -> &Compiled {
        self.exe.compiled()
    }

    fn stats(&self) -> ExecStats {
        ExecStats { codegen_ms: self.codegen_ms, ..ExecStats::of(self.exe.compiled()) }
    }

    fn code(&self) -> &[CodeFile] {
        &self.code
    }
}

impl<D: Device + 'static> Backend for Cuda<D> {
    fn name(&self) -> &'static str {
        "cuda"
    }

    fn target(&self) -> Target {
        target()
    }

    fn load(&self, compiled: Compiled) -> Result<Box<dyn Executable>, Diagnostic> {
        Ok(Box::new(self.load_cuda(compiled)?))
    }
}

/// The coded diagnostic for a device failure: what happened and what to do.
pub fn device_diagnostic(e: &DeviceError) -> Diagnostic {
    let (code, help) = match e {
        DeviceError::NoDriver => (
            Code::CUDA_UNAVAILABLE,
            "install the NVIDIA driver (it provides libcuda.so), or run with `--backend cpu`",
        ),
        DeviceError::NoDevice(_) => (
            Code::CUDA_UNAVAILABLE,
            "check `nvidia-smi` and CUDA_VISIBLE_DEVICES, or run with `--backend cpu`",
        ),
        DeviceError::UnsupportedPtx { .. } => {
            (Code::CUDA_DRIVER, "update the NVIDIA driver to one supporting CUDA 12.0 or newer (PTX ISA 8.0)")
        }
        DeviceError::OutOfMemory { .. } => {
            (Code::CUDA_MEMORY, "use a smaller `batch` in the train block, or free the GPU's memory")
        }
        DeviceError::Launch { .. } | DeviceError::Other(_) => (
            Code::CUDA_LAUNCH,
            "this is likely a bug in nnc's CUDA back end; `--backend cpu` runs the same program",
        ),
    };
    Diagnostic::error_nowhere(code, e.to_string()).with_help(help)
}
