package system

// Schema names the JSON contract of System. It changes only when a field is
// removed or changes meaning; adding a field keeps the version.
const Schema = "rocm-patch/system/v1"

// System is everything rocm-patch knows about a machine, read from one root.
// It holds facts only: no policy, no advice beyond Notes, which explain what
// could not be read or what a setting does to the GPUs listed.
type System struct {
	Schema string `json:"schema"`
	GPUs   []GPU  `json:"gpus"`
	// ROCm lists the ROCm installations found, best candidate first.
	ROCm []Install `json:"rocm"`
	// Torch lists the PyTorch installations found by path (never imported).
	Torch  []Install `json:"torch"`
	Kernel Kernel    `json:"kernel"`
	AMDGPU AMDGPU    `json:"amdgpu"`
	// Env holds the ROCm, HIP and PyTorch variables that are set.
	Env map[string]string `json:"env"`
	// KFDAccessible is true when /dev/kfd exists and the current user may
	// open it for reading and writing.
	KFDAccessible bool   `json:"kfd_accessible"`
	WSL           bool   `json:"wsl"`
	Notes         []Note `json:"notes"`
}

// GPU is one AMD GPU, as ROCm numbers it.
type GPU struct {
	// Index is the ROCr device index: the position among GPU nodes in KFD
	// order. GPUs seen only through DRM (no KFD node) come last.
	Index int `json:"index"`
	// Node is the KFD topology node id, or nil when the GPU has none.
	Node *int `json:"node"`
	// GPUID is KFD's gpu_id, the id used in kernel messages.
	GPUID       uint64 `json:"gpu_id,omitempty"`
	PCI         string `json:"pci"`
	VendorID    string `json:"vendor_id"`
	DeviceID    string `json:"device_id"`
	Revision    string `json:"revision"`
	SubVendorID string `json:"subsystem_vendor_id,omitempty"`
	SubDeviceID string `json:"subsystem_device_id,omitempty"`
	// Name is the marketing name; NameSource says where it came from:
	// "amdgpu.ids:exact", "amdgpu.ids:device", "family-table" or "".
	Name       string `json:"name"`
	NameSource string `json:"name_source"`
	// GFXTarget is the GPU's own ISA ("gfx1031"); TargetSource is
	// "kfd" (gfx_target_version) or "device-table" when the key was missing.
	GFXTarget    string `json:"gfx_target"`
	TargetSource string `json:"target_source"`
	// EffectiveGFXTarget is what ROCm loads code for once
	// HSA_OVERRIDE_GFX_VERSION[_<node>] is applied. Override names the
	// variable that changed it, if any.
	EffectiveGFXTarget string `json:"effective_gfx_target"`
	Override           string `json:"override,omitempty"`
	Family             string `json:"family"`
	GenericISA         string `json:"generic_isa"`
	Integrated         bool   `json:"integrated"`
	VRAMBytes          uint64 `json:"vram_bytes"`
	GTTBytes           uint64 `json:"gtt_bytes"`
	Card               string `json:"card,omitempty"`
	RenderNode         string `json:"render_node,omitempty"`
	// RenderAccessible is true when the current user may open the render
	// node for reading and writing, as ROCm needs.
	RenderAccessible bool   `json:"render_accessible"`
	Driver           string `json:"driver,omitempty"`
	// Visible is false when ROCR_VISIBLE_DEVICES, HIP_VISIBLE_DEVICES,
	// CUDA_VISIBLE_DEVICES or GPU_DEVICE_ORDINAL hide the GPU; HiddenBy names
	// the variable.
	Visible  bool   `json:"visible"`
	HiddenBy string `json:"hidden_by,omitempty"`
}

// Install is a ROCm tree or a PyTorch wheel found on disk.
type Install struct {
	Path string `json:"path"`
	// Version is read from files (.info/version, torch/version.py); empty
	// when unknown.
	Version string `json:"version"`
	// ResolvedPath is where Path leads after symbolic links, when elsewhere.
	ResolvedPath string `json:"resolved_path,omitempty"`
	// HIPVersion is the HIP version a PyTorch build was made with (torch only).
	HIPVersion string `json:"hip_version,omitempty"`
	// ROCBLASTargets are the gfx targets rocBLAS ships kernels for, sorted.
	ROCBLASTargets []string `json:"rocblas_targets"`
}

// Kernel describes the running Linux kernel.
type Kernel struct {
	Release string `json:"release"`
}

// AMDGPU describes the amdgpu kernel module.
type AMDGPU struct {
	Loaded bool              `json:"loaded"`
	Params map[string]string `json:"params"`
}

// Note is something detect could not read, or a fact worth a sentence. Source
// names the file or variable concerned.
type Note struct {
	Level   string `json:"level"` // "info" or "warning"
	Source  string `json:"source,omitempty"`
	Message string `json:"message"`
}
