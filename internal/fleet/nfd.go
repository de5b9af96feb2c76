package fleet

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultFeaturesDir is where node-feature-discovery's local source reads
// feature files; its nfd-worker DaemonSet mounts it from the host.
const DefaultFeaturesDir = "/etc/kubernetes/node-feature-discovery/features.d"

// FeatureFileName is the file rocm-patch owns in the features folder. Every
// non-hidden file there is read, so the name only has to be unique.
const FeatureFileName = "rocm-patch"

// MaxFeatureFileSize is the size above which nfd-worker ignores a feature
// file entirely (source/local: MaxFeatureFileSize, 64 kB).
const MaxFeatureFileSize = 65536

// ErrTooLarge is wrapped when a file would exceed the size its reader
// accepts.
var ErrTooLarge = errors.New("file too large")

// featureHeader is a plain comment (not "# +", which starts a directive).
const featureHeader = "# rocm-patch fleet nfd: node labels for node-feature-discovery; rewritten on every run, do not edit (docs/fleet.md)"

// expiryDirective is NFD's per-line expiry: lines after it are dropped once
// the time has passed, so labels of a node whose refresher died do not stay
// forever.
const expiryDirective = "# +expiry-time="

// FeatureFile writes labels in the local feature file format of
// node-feature-discovery: one "name=value" per line, '#' comments, and,
// when expiry is not zero, "# +expiry-time=<RFC 3339>" before the labels so
// that it covers them all. Every label is validated (ErrInvalidLabel) and a
// name may appear once; the result is refused above MaxFeatureFileSize
// (ErrTooLarge), since NFD would ignore the whole file.
func FeatureFile(labels []Label, expiry time.Time) ([]byte, error) {
	var b strings.Builder
	b.WriteString(featureHeader + "\n")
	if !expiry.IsZero() {
		// RFC 3339 in UTC to the second: what NFD's time.Parse(time.RFC3339)
		// reads, without a zone name to misread.
		b.WriteString(expiryDirective + expiry.UTC().Truncate(time.Second).Format(time.RFC3339) + "\n")
	}
	seen := make(map[string]bool, len(labels))
	for _, l := range labels {
		if err := ValidateLabelName(l.Name); err != nil {
			return nil, err
		}
		if err := ValidateLabelValue(l.Value); err != nil {
			return nil, fmt.Errorf("%s: %w", l.Name, err)
		}
		if seen[l.Name] {
			return nil, fmt.Errorf("label %s given twice: %w", l.Name, ErrInvalidLabel)
		}
		seen[l.Name] = true
		b.WriteString(l.Name + "=" + l.Value + "\n")
	}
	if b.Len() > MaxFeatureFileSize {
		return nil, fmt.Errorf("feature file of %d bytes, over node-feature-discovery's limit of %d: %w", b.Len(), MaxFeatureFileSize, ErrTooLarge)
	}
	return []byte(b.String()), nil
}

// WriteFeatureFile writes data as FeatureFileName in dir, through a hidden
// temporary file renamed into place, and returns the file's path. The folder
// must exist: a missing one most likely means node-feature-discovery is not
// deployed here, which a created folder would hide.
func WriteFeatureFile(dir string, data []byte) (string, error) {
	if len(data) > MaxFeatureFileSize {
		return "", fmt.Errorf("features folder %s: %d bytes, over node-feature-discovery's limit of %d: %w", dir, len(data), MaxFeatureFileSize, ErrTooLarge)
	}
	return writeInto(dir, "features folder", FeatureFileName, data)
}
