package kb

import (
	"bytes"
	"crypto/sha256"
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

// ptrTo returns a pointer to a copy of v; the generated values use it for
// optional scalars such as *int and *bool.
func ptrTo[T any](v T) *T { return &v }
