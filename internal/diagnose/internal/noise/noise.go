// Package noise writes deterministic, realistic training-log noise with a
// few GPU faults in it, for benchmarks of package diagnose: tqdm progress
// bars that rewrite their line with '\r', Ultralytics YOLO epoch lines,
// Python warnings and logging lines, MIOpen performance warnings, ollama
// style server logs and dmesg/journalctl kernel lines.
package noise

import (
	"bufio"
	"io"
	"math/rand/v2"
	"strconv"
)

// Fault is a block of lines inserted at a fraction of the output.
type Fault struct {
	At    float64 // position as a fraction of the size, 0..1
	Lines []string
}

// Faults are the failures Generate inserts: one per class that a
// supervised training run typically meets.
var Faults = []Fault{
	{0.21, []string{
		"Memory access fault by GPU node-1 (Agent handle: 0x55d1c2a3f4e0) on address 0x7f3a1c000000. Reason: Page not present or supervisor privilege.",
		"Aborted (core dumped)",
	}},
	{0.43, []string{
		"[ 8123.456789] amdgpu 0000:03:00.0: amdgpu: [gfxhub0] retry page fault (src_id:0 ring:0 vmid:8 pasid:32770, for process python pid 4242 thread python pid 4242)",
		"[ 8123.456801] amdgpu 0000:03:00.0: amdgpu:   in page starting at address 0x00007f3a1c000000 from client 0x1b (UTCL2)",
		"[ 8123.456812] amdgpu 0000:03:00.0: amdgpu: GCVM_L2_PROTECTION_FAULT_STATUS:0x00800932",
	}},
	{0.64, []string{
		"torch.OutOfMemoryError: HIP out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 11.98 GiB of which 1.02 GiB is free.",
	}},
	{0.86, []string{
		"Sep 14 03:12:55 trainbox kernel: [drm:amdgpu_job_timedout [amdgpu]] *ERROR* ring comp_1.0.0 timeout, signaled seq=1234, emitted seq=1236",
		"Sep 14 03:12:55 trainbox kernel: amdgpu 0000:03:00.0: amdgpu: GPU reset begin!",
	}},
}

var (
	warnings = []string{
		"/usr/lib/python3.10/site-packages/torch/nn/modules/conv.py:456: UserWarning: Applied workaround for CuDNN issue, install nvrtc.so (Triggered internally at ../aten/src/ATen/native/cudnn/Conv_v8.cpp:80.)",
		"  return F.conv2d(input, weight, bias, self.stride,",
		"/home/user/.venv/lib/python3.10/site-packages/torchvision/io/image.py:13: UserWarning: Failed to load image Python extension: 'libc10_hip.so: cannot open shared object file: No such file or directory'",
		"  warn(",
		"/home/user/.venv/lib/python3.10/site-packages/torch/utils/data/dataloader.py:558: UserWarning: This DataLoader will create 8 worker processes in total. Our suggested max number of worker in current system is 4, which is smaller than what this DataLoader is going to create.",
		"MIOpen(HIP): Warning [SQLiteBase] Missing system database file: gfx1030_30.kdb Performance may degrade. Please follow instructions to install: https://github.com/ROCm/MIOpen#installing-miopen-kernels-package",
		"FutureWarning: `torch.cuda.amp.GradScaler(args...)` is deprecated. Please use `torch.amp.GradScaler('cuda', args...)` instead.",
	}
	dmesg = []string{
		"audit: type=1400 audit(1726282375.123:456): apparmor=\"DENIED\" operation=\"open\" class=\"file\" profile=\"snap.firefox.firefox\" name=\"/proc/2345/cgroup\" pid=2345 comm=\"firefox\" requested_mask=\"r\" denied_mask=\"r\" fsuid=1000 ouid=0",
		"amdgpu 0000:03:00.0: amdgpu: SMU is resumed successfully!",
		"usb 1-4: new high-speed USB device number 7 using xhci_hcd",
		"EXT4-fs (nvme0n1p2): re-mounted 3f1c2a4e-1b2c-4d5e-8f90-123456789abc. Quota mode: none.",
		"[drm] PCIE GART of 512M enabled (table at 0x000000F400900000).",
		"nvme nvme0: 16/0/0 default/read/poll queues",
		"IPv6: ADDRCONF(NETDEV_CHANGE): wlp3s0: link becomes ready",
		"amdgpu 0000:03:00.0: amdgpu: ring gfx_0.0.0 uses VM inv eng 0 on hub 0",
	}
	info = []string{
		"INFO - Epoch %d: train_loss=0.%d val_loss=0.%d lr=1.0e-04 time=12.%ds",
		"INFO - Saving checkpoint to runs/detect/train3/weights/last.pt",
		"DEBUG - dataloader: fetched batch %d in 0.0%d s (prefetch_factor=2, num_workers=8)",
		"WARNING - grad norm %d.%d exceeds clip threshold 1.0; clipping",
	}
	ollama = "time=2024-09-14T03:11:%dZ level=INFO source=server.go:%d msg=\"llama runner started in %d.%d seconds\""
)

// Generate writes size bytes (rounded up to a whole line) of noise to w,
// with Faults at their positions, the same bytes for the same seed.
func Generate(w io.Writer, size int64, seed uint64) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var written int64
	next := 0
	line := make([]byte, 0, 1024)
	epoch := 1
	for written < size {
		if next < len(Faults) && float64(written) >= Faults[next].At*float64(size) {
			for _, l := range Faults[next].Lines {
				n, err := bw.WriteString(l + "\n")
				written += int64(n)
				if err != nil {
					return err
				}
			}
			next++
			continue
		}
		line = line[:0]
		switch k := r.IntN(100); {
		case k < 35:
			line = tqdm(line, r, epoch)
		case k < 55:
			line = yolo(line, r, epoch)
		case k < 65:
			line = append(line, warnings[r.IntN(len(warnings))]...)
		case k < 82:
			line = kernel(line, r)
		case k < 95:
			line = logLine(line, r, epoch)
		default:
			line = fill(line, ollama, r)
		}
		if r.IntN(500) == 0 {
			epoch++
		}
		line = append(line, '\n')
		n, err := bw.Write(line)
		written += int64(n)
		if err != nil {
			return err
		}
	}
	return bw.Flush()
}

// tqdm writes a progress bar rewritten with '\r' a few times, as a
// terminal capture or `script` log shows it.
func tqdm(b []byte, r *rand.Rand, epoch int) []byte {
	total := 500 + r.IntN(1500)
	steps := 1 + r.IntN(4)
	done := r.IntN(total - steps)
	for s := 0; s < steps; s++ {
		if s > 0 {
			b = append(b, '\r')
		}
		done += 1 + r.IntN(3)
		pct := done * 100 / total
		b = append(b, "Epoch "...)
		b = strconv.AppendInt(b, int64(epoch), 10)
		b = append(b, "/100: "...)
		b = strconv.AppendInt(b, int64(pct), 10)
		b = append(b, "%|"...)
		for i := 0; i < 25; i++ {
			if i*4 < pct {
				b = append(b, "\u2588"...)
			} else {
				b = append(b, ' ')
			}
		}
		b = append(b, "| "...)
		b = strconv.AppendInt(b, int64(done), 10)
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(total), 10)
		b = append(b, " [01:"...)
		b = appendTwo(b, r.IntN(60))
		b = append(b, "<02:"...)
		b = appendTwo(b, r.IntN(60))
		b = append(b, ",  "...)
		b = strconv.AppendInt(b, int64(3+r.IntN(9)), 10)
		b = append(b, '.')
		b = appendTwo(b, r.IntN(100))
		b = append(b, "it/s, loss=0."...)
		b = strconv.AppendInt(b, int64(1000+r.IntN(9000)), 10)
		b = append(b, ']')
	}
	return b
}

// yolo writes an Ultralytics training progress line (GPU memory, losses,
// instances, image size, progress).
func yolo(b []byte, r *rand.Rand, epoch int) []byte {
	b = append(b, "      "...)
	b = strconv.AppendInt(b, int64(epoch), 10)
	b = append(b, "/100      "...)
	b = strconv.AppendInt(b, int64(2+r.IntN(8)), 10)
	b = append(b, '.')
	b = appendTwo(b, r.IntN(100))
	b = append(b, "G      "...)
	for i := 0; i < 3; i++ {
		b = strconv.AppendInt(b, int64(r.IntN(3)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(100+r.IntN(900)), 10)
		b = append(b, "      "...)
	}
	b = strconv.AppendInt(b, int64(10+r.IntN(90)), 10)
	b = append(b, "        640: "...)
	b = strconv.AppendInt(b, int64(r.IntN(101)), 10)
	b = append(b, "%|\u2588\u2588\u2588\u2588\u2588\u258c    | "...)
	b = strconv.AppendInt(b, int64(r.IntN(300)), 10)
	b = append(b, "/300 [00:"...)
	b = appendTwo(b, r.IntN(60))
	b = append(b, "<00:"...)
	b = appendTwo(b, r.IntN(60))
	b = append(b, ",  4.01it/s]"...)
	return b
}

// kernel writes a dmesg line, or a journalctl one.
func kernel(b []byte, r *rand.Rand) []byte {
	if r.IntN(3) == 0 {
		b = append(b, "Sep 14 03:"...)
		b = appendTwo(b, r.IntN(60))
		b = append(b, ':')
		b = appendTwo(b, r.IntN(60))
		b = append(b, " trainbox kernel: "...)
	} else {
		b = append(b, '[')
		b = strconv.AppendInt(b, int64(1000+r.IntN(90000)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(100000+r.IntN(900000)), 10)
		b = append(b, "] "...)
	}
	return append(b, dmesg[r.IntN(len(dmesg))]...)
}

func logLine(b []byte, r *rand.Rand, epoch int) []byte {
	b = append(b, "2024-09-14 03:"...)
	b = appendTwo(b, r.IntN(60))
	b = append(b, ':')
	b = appendTwo(b, r.IntN(60))
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(100+r.IntN(900)), 10)
	b = append(b, " - "...)
	return fill(b, info[r.IntN(len(info))], r, epoch)
}

// fill expands each %d of format with a number (the first with extra[0]
// when given).
func fill(b []byte, format string, r *rand.Rand, extra ...int) []byte {
	k := 0
	for i := 0; i < len(format); i++ {
		if format[i] == '%' && i+1 < len(format) && format[i+1] == 'd' {
			v := r.IntN(1000)
			if k < len(extra) {
				v = extra[k]
			}
			k++
			b = strconv.AppendInt(b, int64(v), 10)
			i++
			continue
		}
		b = append(b, format[i])
	}
	return b
}

func appendTwo(b []byte, v int) []byte {
	return append(b, byte('0'+v/10%10), byte('0'+v%10))
}
