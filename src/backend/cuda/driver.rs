//! A [`Device`] over the CUDA driver API (`cudarc`, loaded at run time:
//! building needs no CUDA toolkit, running needs `libcuda`). Compiled only
//! with the `cuda` feature.
//!
//! Each device retains GPU 0's primary context and loads one module. Every
//! call makes the context current first, so executables can share the GPU
//! from one thread. Launches go to the default stream; a download waits
//! for them, and a failed launch shows up at the latest there.

use std::collections::HashMap;
use std::ffi::{CString, c_void};

use cudarc::driver::{DriverError, result, sys};

use super::device::{Device, DeviceError, DevicePtr};

/// GPU 0 through the driver API.
pub struct DriverDevice {
    ctx: sys::CUcontext,
    module: Option<sys::CUmodule>,
    functions: HashMap<String, sys::CUfunction>,
    allocations: Vec<sys::CUdeviceptr>,
    capability: Option<(u32, u32)>,
}

/// Whether the driver library can be loaded at all; `CudaContext::new`
/// and friends panic instead of failing when it cannot.
pub fn driver_present() -> bool {
    // SAFETY: only tries to load the library by name.
    unsafe { sys::is_culib_present() }
}

fn driver_version() -> Option<i32> {
    let mut v = 0;
    // SAFETY: the library is present (checked before any call).
    let r = unsafe { sys::cuDriverGetVersion(&mut v) };
    (r == sys::CUresult::CUDA_SUCCESS).then_some(v)
}

fn other(e: DriverError) -> DeviceError {
    DeviceError::Other(e.to_string())
}

impl DriverDevice {
    /// Opens GPU 0.
    pub fn open() -> Result<DriverDevice, DeviceError> {
        if !driver_present() {
            return Err(DeviceError::NoDriver);
        }
        result::init().map_err(|e| DeviceError::NoDevice(e.to_string()))?;
        let count = result::device::get_count().map_err(|e| DeviceError::NoDevice(e.to_string()))?;
        if count < 1 {
            return Err(DeviceError::NoDevice("the driver reports no GPU".into()));
        }
        let dev = result::device::get(0).map_err(|e| DeviceError::NoDevice(e.to_string()))?;
        // SAFETY: `dev` is a valid device; the context is released in `drop`.
        let ctx =
            unsafe { result::primary_ctx::retain(dev) }.map_err(|e| DeviceError::NoDevice(e.to_string()))?;
        let attribute = |a| {
            // SAFETY: `dev` is a valid device.
            unsafe { result::device::get_attribute(dev, a) }.ok().and_then(|v| u32::try_from(v).ok())
        };
        let capability = attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
            .zip(attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR));
        Ok(DriverDevice { ctx, module: None, functions: HashMap::new(), allocations: Vec::new(), capability })
    }

    fn current(&self) -> Result<(), DeviceError> {
        // SAFETY: the context is retained for the device's lifetime.
        unsafe { result::ctx::set_current(self.ctx) }.map_err(other)
    }
}

impl Device for DriverDevice {
    fn compute_capability(&self) -> Option<(u32, u32)> {
        self.capability
    }

    fn load(&mut self, ptx: &str) -> Result<(), DeviceError> {
        self.current()?;
        let text =
            CString::new(ptx).map_err(|_| DeviceError::Other("the PTX text holds a NUL byte".into()))?;
        // SAFETY: `text` is a NUL-terminated PTX image that outlives the call.
        let module =
            unsafe { result::module::load_data(text.as_ptr() as *const c_void) }.map_err(|e| match e.0 {
                sys::CUresult::CUDA_ERROR_UNSUPPORTED_PTX_VERSION => {
                    DeviceError::UnsupportedPtx { driver_version: driver_version() }
                }
                sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => DeviceError::OutOfMemory { bytes: ptx.len() },
                _ => DeviceError::Other(format!("the driver rejected the PTX module: {e}")),
            })?;
        self.module = Some(module);
        Ok(())
    }

    fn alloc(&mut self, bytes: usize) -> Result<DevicePtr, DeviceError> {
        self.current()?;
        // SAFETY: a plain allocation, freed in `drop`.
        let p = unsafe { result::malloc_sync(bytes.max(4)) }.map_err(|e| match e.0 {
            sys::CUresult::CUDA_ERROR_OUT_OF_MEMORY => DeviceError::OutOfMemory { bytes },
            _ => other(e),
        })?;
        self.allocations.push(p);
        Ok(p)
    }

    fn upload(&mut self, dst: DevicePtr, data: &[f32]) -> Result<(), DeviceError> {
        self.current()?;
        // SAFETY: `dst` was allocated here with room for `data`.
        unsafe { result::memcpy_htod_sync(dst, data) }.map_err(other)
    }

    fn download(&mut self, src: DevicePtr, out: &mut [f32]) -> Result<(), DeviceError> {
        self.current()?;
        // SAFETY: `src` was allocated here with room for `out`.
        unsafe { result::memcpy_dtoh_sync(out, src) }.map_err(|e| DeviceError::Launch {
            entry: "(a kernel before this copy)".into(),
            message: e.to_string(),
        })
    }

    fn zero(&mut self, dst: DevicePtr, bytes: usize) -> Result<(), DeviceError> {
        self.current()?;
        // SAFETY: `dst` was allocated here with at least `bytes` bytes.
        unsafe { result::memset_d8_sync(dst, 0, bytes) }.map_err(other)
    }

    fn launch(
        &mut self,
        entry: &str,
        grid: [u32; 3],
        block: [u32; 3],
        params: &[u64],
    ) -> Result<(), DeviceError> {
        self.current()?;
        let module = self.module.ok_or_else(|| DeviceError::Other("no module is loaded".into()))?;
        let f = match self.functions.get(entry) {
            Some(f) => *f,
            None => {
                let name = CString::new(entry).map_err(|_| DeviceError::Other("bad entry name".into()))?;
                // SAFETY: the module is loaded in this context.
                let f = unsafe { result::module::get_function(module, name) }.map_err(other)?;
                self.functions.insert(entry.to_string(), f);
                f
            }
        };
        let mut values: Vec<u64> = params.to_vec();
        let mut args: Vec<*mut c_void> = values.iter_mut().map(|v| v as *mut u64 as *mut c_void).collect();
        // SAFETY: every parameter of nnc's entries is a `.u64`, and `args`
        // points at one u64 each, alive until the launch has copied them.
        unsafe {
            result::launch_kernel(
                f,
                (grid[0], grid[1], grid[2]),
                (block[0], block[1], block[2]),
                0,
                std::ptr::null_mut(),
                &mut args,
            )
        }
        .map_err(|e| DeviceError::Launch { entry: entry.to_string(), message: e.to_string() })
    }
}

impl Drop for DriverDevice {
    fn drop(&mut self) {
        if self.current().is_err() {
            return;
        }
        // SAFETY: nothing uses the allocations or the module any more.
        unsafe {
            let _ = result::ctx::synchronize();
            for p in self.allocations.drain(..) {
                let _ = result::free_sync(p);
            }
            if let Some(m) = self.module.take() {
                let _ = result::module::unload(m);
            }
            if let Ok(dev) = result::device::get(0) {
                let _ = result::primary_ctx::release(dev);
            }
        }
    }
}
