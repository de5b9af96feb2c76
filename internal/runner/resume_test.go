package runner

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestFindUltralyticsWeights(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	write := func(rel string, mtime time.Time) string {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("w"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if _, ok, err := FindUltralyticsWeights(dir, start); ok || err != nil {
		t.Fatalf("empty folder: %v %v", ok, err)
	}
	write("runs/detect/old/weights/last.pt", start.Add(-time.Hour))
	if _, ok, _ := FindUltralyticsWeights(dir, start); ok {
		t.Error("a checkpoint older than the run was taken")
	}
	write("runs/detect/train/weights/last.pt", start.Add(time.Second))
	newest := write("runs/segment/train2/weights/last.pt", start.Add(2*time.Second))
	write("runs/detect/train/weights/best.pt", start.Add(3*time.Second))
	os.MkdirAll(filepath.Join(dir, "runs/detect/dir/weights/last.pt"), 0o755)
	got, ok, err := FindUltralyticsWeights(dir, start)
	if !ok || err != nil || got != newest {
		t.Errorf("got %q %v %v, want %q", got, ok, err, newest)
	}
}

func TestUltralyticsResumeArgv(t *testing.T) {
	for _, tt := range []struct {
		orig []string
		cpu  bool
		want []string
	}{
		{[]string{"yolo", "train", "data=x.yaml"}, false, []string{"yolo", "train", "resume", "model=/w/last.pt"}},
		{[]string{"/venv/bin/yolo", "detect", "train"}, true, []string{"/venv/bin/yolo", "train", "resume", "model=/w/last.pt", "device=cpu"}},
		{[]string{"python", "train.py"}, false, []string{"yolo", "train", "resume", "model=/w/last.pt"}},
	} {
		if got := UltralyticsResumeArgv(tt.orig, "/w/last.pt", tt.cpu); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q cpu=%v: %q, want %q", tt.orig, tt.cpu, got, tt.want)
		}
	}
}

func TestLightningCheck(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"last.py":    "trainer.fit(model, ckpt_path = 'last')\n",
		"env.py":     "trainer.fit(model, ckpt_path=os.environ.get(\"ROCM_PATCH_RESUME\"))\n",
		"fresh.py":   "trainer.fit(model)\n",
		"best.py":    "trainer.fit(model, ckpt_path=\"best\")\n",
		"sub/abs.py": "trainer.fit(model)\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	abs := filepath.Join(dir, "sub/abs.py")
	got := LightningCheck([]string{"python", "last.py", "env.py", "fresh.py", "best.py", "missing.py", abs, "-m", "pkg"}, dir)
	if want := []string{"fresh.py", "best.py", abs}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestParseRecipe(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Recipe
		ok   bool
	}{
		{"", RecipeNone, true}, {"ultralytics", RecipeUltralytics, true}, {"lightning", RecipeLightning, true}, {"keras", RecipeNone, false},
	} {
		got, err := ParseRecipe(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseRecipe(%q) = %q, %v", tt.in, got, err)
		}
	}
}
