package hw

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// sharedFixtures is the project's folder of real sysfs captures, beside the
// repository; tests that use it skip where it is absent.
const sharedFixtures = "../../../shared/fixtures"

func requireFixtures(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(sharedFixtures); err != nil {
		t.Skipf("no shared fixtures at %s: %v", sharedFixtures, err)
	}
	return sharedFixtures
}

func readKeyValues(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), " "); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	return kv
}

// TestRealKFDNodes checks the device table against real KFD captures: every
// AMD GPU node's device id is known, and where the kernel published
// gfx_target_version it names the same ISA as the table.
func TestRealKFDNodes(t *testing.T) {
	root := filepath.Join(requireFixtures(t), "kfd")
	gpus, withVersion := 0, 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "properties" || !strings.Contains(path, "nodes") {
			return err
		}
		kv := readKeyValues(t, path)
		if kv["vendor_id"] != "4098" || kv["device_id"] == "0" {
			return nil
		}
		gpus++
		id, err := strconv.ParseUint(kv["device_id"], 10, 16)
		if err != nil {
			t.Errorf("%s: device_id %q: %v", path, kv["device_id"], err)
			return nil
		}
		dev, ok := LookupDevice(uint16(id))
		if !ok {
			t.Errorf("%s: device %#04x is not in the device table", path, id)
			return nil
		}
		raw, present := kv["gfx_target_version"]
		if !present {
			return nil // old kernel: the table is what names the ISA
		}
		n, err := strconv.ParseUint(raw, 10, 64)
		if err != nil {
			t.Errorf("%s: gfx_target_version %q: %v", path, raw, err)
			return nil
		}
		v, err := FromTargetVersion(n)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		name, err := v.Target()
		if err != nil || name != dev.Target {
			t.Errorf("%s: KFD says %q (%v), the device table says %s for %#04x", path, name, err, dev.Target, id)
		}
		withVersion++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if gpus == 0 || withVersion == 0 {
		t.Fatalf("found %d GPU nodes, %d with gfx_target_version; the captures were not read", gpus, withVersion)
	}
}

// TestRealDRMCard names the captured RX Vega 64 (1002:687f rev c1) from both
// tables.
func TestRealDRMCard(t *testing.T) {
	dir := filepath.Join(requireFixtures(t), "class-drm", "card0", "device")
	read := func(name string) uint16 {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(string(b)), "0x"), 16, 16)
		if err != nil {
			t.Fatal(err)
		}
		return uint16(v)
	}
	devID, rev := read("device"), read("revision")
	dev, ok := LookupDevice(devID)
	if !ok || dev.Target != "gfx900" {
		t.Errorf("LookupDevice(%#04x) = %+v, %v; want gfx900", devID, dev, ok)
	}
	tab, err := ParseIDTable(bytes.NewReader(openTestIDs(t)))
	if err != nil {
		t.Fatal(err)
	}
	if name, exact, ok := tab.Lookup(devID, rev); !ok || !exact || name != "AMD Radeon RX Vega" {
		t.Errorf("Lookup(%#04x, %#02x) = %q, %v, %v; want AMD Radeon RX Vega", devID, rev, name, exact, ok)
	}
}
