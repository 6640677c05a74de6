//! What the CUDA executable needs from a GPU: device memory, a loaded
//! module and kernel launches. The driver API implements it
//! (`driver.rs`, behind the `cuda` feature); the test suite implements it
//! over a PTX simulator, so everything above this trait is tested without
//! a GPU.

use std::fmt;

/// A device memory address.
pub type DevicePtr = u64;

/// A GPU as the executable uses it. Calls are in order; a launch may run
/// asynchronously, and a download waits for every launch before it.
pub trait Device {
    /// Loads the PTX module every later launch names its entry in.
    fn load(&mut self, ptx: &str) -> Result<(), DeviceError>;
    /// Allocates `bytes` bytes (at least 256-byte aligned).
    fn alloc(&mut self, bytes: usize) -> Result<DevicePtr, DeviceError>;
    /// Copies `data` to `dst`.
    fn upload(&mut self, dst: DevicePtr, data: &[f32]) -> Result<(), DeviceError>;
    /// Copies `out.len()` values from `src`, after every launch so far.
    fn download(&mut self, src: DevicePtr, out: &mut [f32]) -> Result<(), DeviceError>;
    /// Sets `bytes` bytes at `dst` to zero.
    fn zero(&mut self, dst: DevicePtr, bytes: usize) -> Result<(), DeviceError>;
    /// Launches `entry` with every parameter a `.u64`.
    fn launch(
        &mut self,
        entry: &str,
        grid: [u32; 3],
        block: [u32; 3],
        params: &[u64],
    ) -> Result<(), DeviceError>;
    /// The GPU's compute capability `(major, minor)`, when known; the back
    /// end emits for the newest architecture it runs.
    fn compute_capability(&self) -> Option<(u32, u32)> {
        None
    }
}

/// Why the GPU could not do what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// No CUDA driver library could be loaded.
    NoDriver,
    /// The driver found no usable GPU.
    NoDevice(String),
    /// The driver is too old for the PTX ISA version nnc emits.
    UnsupportedPtx {
        /// The driver's CUDA version (e.g. 12020 for 12.2), when known.
        driver_version: Option<i32>,
    },
    /// Device memory ran out.
    OutOfMemory {
        /// The allocation that failed, in bytes.
        bytes: usize,
    },
    /// A kernel launch or the work before a copy failed.
    Launch {
        /// The entry, when the failure is tied to one.
        entry: String,
        /// The driver's or simulator's message.
        message: String,
    },
    /// Anything else the driver reported.
    Other(String),
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceError::NoDriver => f.write_str("no CUDA driver (libcuda) could be loaded"),
            DeviceError::NoDevice(m) => write!(f, "no usable CUDA device: {m}"),
            DeviceError::UnsupportedPtx { driver_version: Some(v) } => write!(
                f,
                "the CUDA driver (version {}.{}) does not support PTX ISA 8.0",
                v / 1000,
                v % 1000 / 10
            ),
            DeviceError::UnsupportedPtx { driver_version: None } => {
                f.write_str("the CUDA driver does not support PTX ISA 8.0")
            }
            DeviceError::OutOfMemory { bytes } => write!(f, "out of device memory allocating {bytes} bytes"),
            DeviceError::Launch { entry, message } => write!(f, "kernel `{entry}` failed: {message}"),
            DeviceError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for DeviceError {}
