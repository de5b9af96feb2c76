package kb

import (
	"bytes"
	"crypto/sha256"
	"io"
	"io/fs"
	"reflect"

	"go.yaml.in/yaml/v3"
)

// decodeStrict decodes one YAML document into v, a pointer, refusing
// fields the type does not have.
//
// The files embedded in the binary are known at build time, and decoding
// their YAML was two thirds of loading the knowledge base: about 3 ms that
// rocm-patch run paid before every job started. predecoded_gen.go holds
// what the decoder makes of each of them, as Go values; when data is
// byte for byte one of those files (same SHA-256), its value is used
// instead of decoding. Everything after decoding (validation, patterns,
// links) runs as for any other input, so the result is the same; the
// package's tests check that the generated values equal the decoder's and
// that the generated file is current (go test ./internal/kb -update
// rewrites it).
func decodeStrict(data []byte, v any) error {
	_, err := decodeKnown(data, v)
	return err
}

// decodeKnown is decodeStrict that also says whether data was one of the
// files embedded at build time, which the package's tests validate in
// full; a loader may then defer work that only finds errors (compiling
// the patterns) to first use.
func decodeKnown(data []byte, v any) (known bool, err error) {
	if build, ok := predecoded[sha256.Sum256(data)]; ok {
		src := reflect.ValueOf(build())
		dst := reflect.ValueOf(v)
		if src.Type() == dst.Type() {
			dst.Elem().Set(src.Elem())
			return true, nil
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return false, dec.Decode(v)
}

// predecodedEntry returns a new copy of the embedded entry file whose
// SHA-256 is sum (front matter and body), marked known.
func predecodedEntry(sum [32]byte) (*Entry, bool) {
	build, ok := predecoded[sum]
	if !ok {
		return nil, false
	}
	e, ok := build().(*Entry)
	if !ok {
		return nil, false
	}
	e.known = true
	return e, true
}

// fileSum is the SHA-256 of the file name in fsys, read in pieces through
// buf: an embedded knowledge base is about 150 KB, and reading each file
// whole only to find its hash in predecoded was half of what loading it
// allocated. ok is false when the file cannot be read; the caller's own
// read then reports why.
func fileSum(fsys fs.FS, name string, buf []byte) (sum [32]byte, ok bool) {
	f, err := fsys.Open(name)
	if err != nil {
		return sum, false
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf); err != nil {
		return sum, false
	}
	h.Sum(sum[:0])
	return sum, true
}

// ptrTo returns a pointer to a copy of v; the generated values use it for
// optional scalars such as *int and *bool.
func ptrTo[T any](v T) *T { return &v }
