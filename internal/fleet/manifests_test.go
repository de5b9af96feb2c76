package fleet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rocm-patch/rocm-patch/internal/cli"
	"github.com/rocm-patch/rocm-patch/internal/fleet"
)

// The Kubernetes types below model only what the manifests use; they are
// decoded with unknown fields refused, so that a misspelt field
// (matchExpresions) fails here rather than at kubectl apply.
type k8sObject struct {
	APIVersion string      `yaml:"apiVersion"`
	Kind       string      `yaml:"kind"`
	Metadata   k8sMetadata `yaml:"metadata"`
	Spec       struct {
		Selector *struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		UpdateStrategy map[string]any `yaml:"updateStrategy"`
		BackoffLimit   *int           `yaml:"backoffLimit"`
		Template       struct {
			Metadata k8sMetadata `yaml:"metadata"`
			Spec     podSpec     `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type k8sMetadata struct {
	Name      string            `yaml:"name"`
	Namespace string            `yaml:"namespace"`
	Labels    map[string]string `yaml:"labels"`
}

type podSpec struct {
	RestartPolicy                string            `yaml:"restartPolicy"`
	AutomountServiceAccountToken *bool             `yaml:"automountServiceAccountToken"`
	NodeSelector                 map[string]string `yaml:"nodeSelector"`
	Tolerations                  []map[string]any  `yaml:"tolerations"`
	Affinity                     *struct {
		NodeAffinity *struct {
			Required *struct {
				NodeSelectorTerms []nodeSelectorTerm `yaml:"nodeSelectorTerms"`
			} `yaml:"requiredDuringSchedulingIgnoredDuringExecution"`
			Preferred []struct {
				Weight     int              `yaml:"weight"`
				Preference nodeSelectorTerm `yaml:"preference"`
			} `yaml:"preferredDuringSchedulingIgnoredDuringExecution"`
		} `yaml:"nodeAffinity"`
	} `yaml:"affinity"`
	Containers []container `yaml:"containers"`
	Volumes    []struct {
		Name     string `yaml:"name"`
		HostPath *struct {
			Path string `yaml:"path"`
			Type string `yaml:"type"`
		} `yaml:"hostPath"`
	} `yaml:"volumes"`
}

type nodeSelectorTerm struct {
	MatchExpressions []struct {
		Key      string   `yaml:"key"`
		Operator string   `yaml:"operator"`
		Values   []string `yaml:"values"`
	} `yaml:"matchExpressions"`
}

type container struct {
	Name            string         `yaml:"name"`
	Image           string         `yaml:"image"`
	ImagePullPolicy string         `yaml:"imagePullPolicy"`
	Command         []string       `yaml:"command"`
	Args            []string       `yaml:"args"`
	Resources       map[string]any `yaml:"resources"`
	SecurityContext *struct {
		RunAsUser                *int           `yaml:"runAsUser"`
		ReadOnlyRootFilesystem   *bool          `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool          `yaml:"allowPrivilegeEscalation"`
		Capabilities             map[string]any `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
}

func manifestsDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join("..", "..", "deploy", "kubernetes")
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readManifests(t *testing.T, name string) []k8sObject {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(manifestsDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var objs []k8sObject
	for {
		var o k8sObject
		err := dec.Decode(&o)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		objs = append(objs, o)
	}
	return objs
}

// checkPod checks what every workload needs: a selector its template
// matches, mounts of declared volumes, every volume used.
func checkPod(t *testing.T, o k8sObject) {
	t.Helper()
	if o.Metadata.Name == "" {
		t.Errorf("%s without a name", o.Kind)
	}
	if sel := o.Spec.Selector; sel != nil {
		if len(sel.MatchLabels) == 0 {
			t.Errorf("%s: empty selector", o.Metadata.Name)
		}
		for k, v := range sel.MatchLabels {
			if o.Spec.Template.Metadata.Labels[k] != v {
				t.Errorf("%s: selector %s=%s does not match the pod template", o.Metadata.Name, k, v)
			}
		}
	}
	pod := o.Spec.Template.Spec
	if len(pod.Containers) == 0 {
		t.Fatalf("%s: no container", o.Metadata.Name)
	}
	declared := map[string]bool{}
	for _, v := range pod.Volumes {
		if declared[v.Name] {
			t.Errorf("%s: volume %s declared twice", o.Metadata.Name, v.Name)
		}
		declared[v.Name] = true
		if v.HostPath != nil && !path.IsAbs(v.HostPath.Path) {
			t.Errorf("%s: hostPath %q is not absolute", o.Metadata.Name, v.HostPath.Path)
		}
	}
	used := map[string]bool{}
	for _, c := range pod.Containers {
		if c.Name == "" || c.Image == "" {
			t.Errorf("%s: container without name or image", o.Metadata.Name)
		}
		for _, m := range c.VolumeMounts {
			if !declared[m.Name] {
				t.Errorf("%s: mount of undeclared volume %s", o.Metadata.Name, m.Name)
			}
			used[m.Name] = true
		}
	}
	for name := range declared {
		if !used[name] {
			t.Errorf("%s: volume %s never mounted", o.Metadata.Name, name)
		}
	}
}

// hostPathAt is the host path mounted at mountPath, and whether read-only.
func hostPathAt(t *testing.T, o k8sObject, mountPath string) (host string, readOnly, ok bool) {
	t.Helper()
	pod := o.Spec.Template.Spec
	for _, c := range pod.Containers {
		for _, m := range c.VolumeMounts {
			if m.MountPath != mountPath {
				continue
			}
			for _, v := range pod.Volumes {
				if v.Name == m.Name && v.HostPath != nil {
					return v.HostPath.Path, m.ReadOnly, true
				}
			}
		}
	}
	return "", false, false
}

// fleetInvocation finds the `rocm-patch fleet nfd` line of a shell script
// (continuations joined) and returns its words up to "||", and the script's
// sleep in seconds.
func fleetInvocation(t *testing.T, script string) (words []string, sleep int) {
	t.Helper()
	script = strings.ReplaceAll(script, "\\\n", " ")
	for _, line := range strings.Split(script, "\n") {
		fields := strings.Fields(line)
		if i := slices.Index(fields, "rocm-patch"); i >= 0 && len(fields) > i+2 && fields[i+1] == "fleet" && fields[i+2] == "nfd" {
			words = fields[i:]
			if j := slices.Index(words, "||"); j >= 0 {
				words = words[:j]
			}
		}
		if len(fields) == 2 && fields[0] == "sleep" {
			n, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatalf("sleep %q", fields[1])
			}
			sleep = n
		}
	}
	if words == nil || sleep == 0 {
		t.Fatalf("no `rocm-patch fleet nfd` or no sleep in:\n%s", script)
	}
	return words, sleep
}

func flagValue(words []string, name string) (string, bool) {
	for i, w := range words {
		if w == name && i+1 < len(words) {
			return words[i+1], true
		}
		if v, ok := strings.CutPrefix(w, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

const historyHostDir = "/var/lib/rocm-patch"

func TestManifestsDaemonSet(t *testing.T) {
	objs := readManifests(t, "daemonset.yaml")
	if len(objs) != 1 {
		t.Fatalf("%d objects", len(objs))
	}
	ds := objs[0]
	if ds.APIVersion != "apps/v1" || ds.Kind != "DaemonSet" {
		t.Fatalf("%s %s", ds.APIVersion, ds.Kind)
	}
	if ds.Spec.Selector == nil {
		t.Fatal("a DaemonSet needs a selector")
	}
	checkPod(t, ds)
	pod := ds.Spec.Template.Spec
	if p := pod.RestartPolicy; p != "" && p != "Always" {
		t.Errorf("restartPolicy %s: a DaemonSet's pods restart Always", p)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	if sc := c.SecurityContext; sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Error("the container should forbid privilege escalation and keep its root read-only")
	}
	words, sleep := fleetInvocation(t, strings.Join(append(append([]string{}, c.Command...), c.Args...), "\n"))

	// The refresh must come well inside the expiry, or the labels blink
	// out between two runs.
	expiryText, ok := flagValue(words, "--expiry")
	if !ok {
		t.Fatal("no --expiry: labels would outlive the DaemonSet")
	}
	expiry, err := time.ParseDuration(expiryText)
	if err != nil {
		t.Fatal(err)
	}
	if period := time.Duration(sleep) * time.Second; period*3 > expiry {
		t.Errorf("refresh every %v with --expiry %v: leave room for a missed refresh or two", period, expiry)
	}

	// features.d: NFD's host folder, writable.
	dir, ok := flagValue(words, "--dir")
	if !ok {
		dir = fleet.DefaultFeaturesDir
	}
	if host, ro, ok := hostPathAt(t, ds, dir); !ok || host != fleet.DefaultFeaturesDir || ro {
		t.Errorf("--dir %s: mounted from %q (read-only %v, found %v), want %s writable", dir, host, ro, ok, fleet.DefaultFeaturesDir)
	}
	// The host under --root, read-only.
	root, ok := flagValue(words, "--root")
	if !ok {
		t.Fatal("no --root: rocm-patch would read the container, not the host")
	}
	for _, sub := range []string{"/sys", "/dev", "/proc"} {
		if host, ro, ok := hostPathAt(t, ds, root+sub); !ok || host != sub || !ro {
			t.Errorf("%s%s: from %q read-only %v (found %v), want the host's %s read-only", root, sub, host, ro, ok, sub)
		}
	}
	// The history folder, writable (WAL readers write the -shm file).
	hist, ok := flagValue(words, "--history")
	if !ok {
		t.Fatal("no --history")
	}
	if host, ro, ok := hostPathAt(t, ds, path.Dir(hist)); !ok || host != historyHostDir || ro {
		t.Errorf("history folder %s: from %q read-only %v (found %v)", path.Dir(hist), host, ro, ok)
	}

	// The flags must be ones the command accepts: run it with them, over an
	// example machine instead of /host, printing instead of writing.
	args := append([]string{}, words[1:]...)
	for i := range args {
		if args[i] == root {
			args[i] = filepath.Join("..", "..", "examples", "systems", "rx6700xt")
		}
	}
	args = append(args, "--print")
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, strings.NewReader(""), &out, &errb, []string{"ROCM_PATCH_NO_HOST_IDS=1"})
	if code != 0 {
		t.Fatalf("rocm-patch %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
	}
	if !strings.Contains(out.String(), "# +expiry-time=") || !strings.Contains(out.String(), "rocm-patch.io/risk=high") {
		t.Errorf("output:\n%s", out.String())
	}
}

// knownLabelValues are the values a selector may compare a label with;
// nil: any valid label value.
var knownLabelValues = map[string][]string{
	fleet.LabelPrefix + fleet.LabelRisk:   {"none", "low", "medium", "high"},
	fleet.LabelPrefix + fleet.LabelPolicy: {"mitigate", "cpu"},
	fleet.LabelPrefix + fleet.LabelDevice: {"gpu", "cpu"},
}

// numericLabels are the labels whose values are integers.
var numericLabels = []string{
	fleet.LabelPrefix + fleet.LabelGPUCount, fleet.LabelPrefix + fleet.LabelCrashPercent, fleet.LabelPrefix + fleet.LabelCrashAttempts,
}

// checkTerm checks node selector requirements by the API's rules
// (In/NotIn: one or more values; Exists/DoesNotExist: none; Gt/Lt: exactly
// one integer) and against the labels rocm-patch writes. It returns the
// rocm-patch labels the term requires to exist, and what is wrong.
func checkTerm(term nodeSelectorTerm) (present map[string]bool, problems []string) {
	present = map[string]bool{}
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if len(term.MatchExpressions) == 0 {
		bad("an empty term matches every node")
	}
	for _, e := range term.MatchExpressions {
		if !strings.HasPrefix(e.Key, fleet.LabelPrefix) {
			continue
		}
		if !slices.Contains(fleet.LabelNames, e.Key) && !strings.HasPrefix(e.Key, fleet.LabelPrefix+fleet.LabelGPUFamily+".") {
			bad("rocm-patch writes no label %s", e.Key)
		}
		if err := fleet.ValidateLabelName(e.Key); err != nil {
			bad("%v", err)
		}
		switch e.Operator {
		case "In", "NotIn":
			if len(e.Values) == 0 {
				bad("%s %s needs values", e.Key, e.Operator)
			}
		case "Exists", "DoesNotExist":
			if len(e.Values) != 0 {
				bad("%s %s takes no values", e.Key, e.Operator)
			}
		case "Gt", "Lt":
			if len(e.Values) != 1 {
				bad("%s %s takes one value", e.Key, e.Operator)
			} else if _, err := strconv.ParseInt(e.Values[0], 10, 64); err != nil {
				bad("%s %s %q: Gt and Lt compare integers", e.Key, e.Operator, e.Values[0])
			}
			if !slices.Contains(numericLabels, e.Key) {
				bad("%s is not a number", e.Key)
			}
		default:
			bad("operator %q", e.Operator)
		}
		for _, v := range e.Values {
			if err := fleet.ValidateLabelValue(v); err != nil {
				bad("%v", err)
			}
			if known := knownLabelValues[e.Key]; known != nil && !slices.Contains(known, v) {
				bad("%s is never %q", e.Key, v)
			}
		}
		// NotIn and DoesNotExist match nodes without the label.
		if e.Operator != "NotIn" && e.Operator != "DoesNotExist" {
			present[e.Key] = true
		}
	}
	return present, problems
}

// checkTermOK is checkTerm reporting its problems as test errors.
func checkTermOK(t *testing.T, job string, term nodeSelectorTerm) map[string]bool {
	t.Helper()
	present, problems := checkTerm(term)
	for _, p := range problems {
		t.Errorf("%s: %s", job, p)
	}
	return present
}

func TestManifestsJobs(t *testing.T) {
	objs := readManifests(t, "job-example.yaml")
	if len(objs) != 2 {
		t.Fatalf("%d objects, want the two examples", len(objs))
	}
	var offHighRisk, cpuPolicy bool
	for _, o := range objs {
		if o.APIVersion != "batch/v1" || o.Kind != "Job" {
			t.Fatalf("%s %s", o.APIVersion, o.Kind)
		}
		checkPod(t, o)
		name := o.Metadata.Name
		pod := o.Spec.Template.Spec
		if p := pod.RestartPolicy; p != "Never" && p != "OnFailure" {
			t.Errorf("%s: restartPolicy %q (a Job needs Never or OnFailure)", name, p)
		}
		if pod.Affinity == nil || pod.Affinity.NodeAffinity == nil || pod.Affinity.NodeAffinity.Required == nil {
			t.Fatalf("%s: no required node affinity", name)
		}
		na := pod.Affinity.NodeAffinity
		for _, p := range na.Preferred {
			if p.Weight < 1 || p.Weight > 100 {
				t.Errorf("%s: weight %d outside 1..100", name, p.Weight)
			}
			checkTermOK(t, name, p.Preference)
		}
		// A job keeps off high-risk nodes when every required term
		// excludes risk=high and requires a rocm-patch label to exist (or
		// NotIn would let unlabelled nodes through).
		excludesHigh := len(na.Required.NodeSelectorTerms) > 0
		for _, term := range na.Required.NodeSelectorTerms {
			present := checkTermOK(t, name, term)
			excludes := false
			for _, e := range term.MatchExpressions {
				if e.Key != fleet.LabelPrefix+fleet.LabelRisk {
					continue
				}
				switch e.Operator {
				case "NotIn":
					excludes = slices.Contains(e.Values, "high") && len(present) > 0
				case "In":
					excludes = !slices.Contains(e.Values, "high")
				}
			}
			excludesHigh = excludesHigh && excludes
		}
		c := pod.Containers[0]
		cmd := c.Command
		if len(cmd) < 3 || cmd[0] != "rocm-patch" || cmd[1] != "run" {
			t.Fatalf("%s: %q does not run under rocm-patch run", name, cmd)
		}
		sep := slices.Index(cmd, "--")
		if sep < 0 || sep == len(cmd)-1 {
			t.Fatalf("%s: %q lacks `-- COMMAND`", name, cmd)
		}
		flags := cmd[2:sep]
		policy, _ := flagValue(flags, "--policy")
		if excludesHigh {
			offHighRisk = true
		}
		if policy == "cpu" {
			cpuPolicy = true
		}
		if !excludesHigh && policy != "cpu" {
			t.Errorf("%s: neither keeps off high-risk nodes nor runs under --policy cpu", name)
		}
		// The history the labeller reads.
		hist, ok := flagValue(flags, "--history")
		if !ok {
			t.Errorf("%s: no --history: the node's crash labels would not see this job", name)
			continue
		}
		if host, ro, ok := hostPathAt(t, o, path.Dir(hist)); !ok || host != historyHostDir || ro {
			t.Errorf("%s: history folder %s from %q read-only %v (found %v)", name, path.Dir(hist), host, ro, ok)
		}
	}
	if !offHighRisk || !cpuPolicy {
		t.Errorf("examples: keeps off high risk %v, cpu policy %v; want both", offHighRisk, cpuPolicy)
	}
}

// TestManifestsCatchMistakes feeds the checks broken manifests, so that a
// check that can never fail is noticed.
func TestManifestsCatchMistakes(t *testing.T) {
	var term nodeSelectorTerm
	bad := []string{
		"matchExpressions: [{key: rocm-patch.io/risk, operator: NotIn}]",
		"matchExpressions: [{key: rocm-patch.io/crash.percent, operator: Gt, values: ['0.5']}]",
		"matchExpressions: [{key: rocm-patch.io/risk, operator: Gt, values: ['2']}]",
		"matchExpressions: [{key: rocm-patch.io/risk, operator: In, values: [severe]}]",
		"matchExpressions: [{key: rocm-patch.io/gpu.vram, operator: Exists}]",
		"matchExpressions: [{key: rocm-patch.io/gpu.count, operator: Exists, values: ['1']}]",
		"matchExpressions: [{key: rocm-patch.io/gpu.count, operator: GreaterThan, values: ['1']}]",
		"matchExpressions: []",
	}
	for _, b := range bad {
		term = nodeSelectorTerm{}
		if err := yaml.Unmarshal([]byte(b), &term); err != nil {
			t.Fatal(err)
		}
		if _, problems := checkTerm(term); len(problems) == 0 {
			t.Errorf("checkTerm passed %s", b)
		}
	}
	dec := yaml.NewDecoder(strings.NewReader("spec:\n  template:\n    spec:\n      affinity:\n        nodeAffinity:\n          requiredDuringSchedulingIgnoredDuringExecution:\n            nodeSelectorTerms:\n              - matchExpresions: []\n"))
	dec.KnownFields(true)
	var o k8sObject
	if err := dec.Decode(&o); err == nil {
		t.Error("a misspelt field was accepted")
	}
}
