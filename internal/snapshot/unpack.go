package snapshot

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/fsroot"
)

// Limits that keep a hostile archive from filling the disk.
const (
	maxEntries = 200_000
	maxTotal   = 512 << 20
)

// ErrUnsafe marks an archive member that Unpack refuses.
var ErrUnsafe = errors.New("unsafe archive member")

// IsArchive reports whether name looks like a snapshot rather than a tree.
func IsArchive(name string) bool {
	fi, err := os.Stat(name)
	return err == nil && fi.Mode().IsRegular()
}

// Unpack extracts the tar.gz at archive into dest, an empty folder. It
// rejects absolute names, names with "..", links whose relative target
// climbs above the tree, members that would be written through a link,
// duplicate names, and anything but folders, files and links. Absolute link
// targets are kept: fsroot resolves them inside the tree, as a chroot does.
func Unpack(archive, dest string) error {
	f, err := os.Open(archive)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", archive, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("snapshot %s: not a gzip file: %w", archive, err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	var total int64
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("snapshot %s: truncated or corrupt: %w", archive, err)
		}
		if n >= maxEntries {
			return fmt.Errorf("snapshot %s: more than %d members", archive, maxEntries)
		}
		name, err := memberName(hdr.Name)
		if err != nil {
			return fmt.Errorf("snapshot %s: member %q: %w", archive, hdr.Name, err)
		}
		if name == "" {
			continue // the archive's own top folder, "./"
		}
		if err := checkParents(dest, name); err != nil {
			return fmt.Errorf("snapshot %s: member %q: %w", archive, hdr.Name, err)
		}
		target := filepath.Join(dest, filepath.FromSlash(name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return fmt.Errorf("snapshot %s: %w", archive, err)
			}
		case tar.TypeReg:
			if hdr.Size > fsroot.MaxFileSize {
				return fmt.Errorf("snapshot %s: member %q: %d bytes is larger than any file detect reads", archive, hdr.Name, hdr.Size)
			}
			total += hdr.Size
			if total > maxTotal {
				return fmt.Errorf("snapshot %s: more than %d bytes in all", archive, maxTotal)
			}
			if err := writeMember(target, tr); err != nil {
				return fmt.Errorf("snapshot %s: member %q: %w", archive, hdr.Name, err)
			}
		case tar.TypeSymlink:
			if err := checkLink(name, hdr.Linkname); err != nil {
				return fmt.Errorf("snapshot %s: member %q: %w", archive, hdr.Name, err)
			}
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return fmt.Errorf("snapshot %s: %w", archive, err)
			}
			if err := os.Symlink(hdr.Linkname, target); err != nil {
				return fmt.Errorf("snapshot %s: member %q: %w", archive, hdr.Name, err)
			}
		default:
			return fmt.Errorf("snapshot %s: member %q: type %q is not a folder, file or link: %w", archive, hdr.Name, string(hdr.Typeflag), ErrUnsafe)
		}
	}
}

// memberName cleans a member name and rejects escapes.
func memberName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("empty name: %w", ErrUnsafe)
	}
	if strings.HasPrefix(name, "/") || filepath.IsAbs(name) {
		return "", fmt.Errorf("absolute name: %w", ErrUnsafe)
	}
	if strings.ContainsRune(name, 0) || strings.Contains(name, `\`) {
		return "", fmt.Errorf("name with a NUL or backslash: %w", ErrUnsafe)
	}
	for _, elem := range strings.Split(name, "/") {
		if elem == ".." {
			return "", fmt.Errorf(`name with "..": %w`, ErrUnsafe)
		}
	}
	clean := path.Clean(name)
	if clean == "." {
		return "", nil
	}
	return clean, nil
}

// checkLink rejects a relative target that leaves the tree from where the
// link stands.
func checkLink(name, target string) error {
	if target == "" || strings.ContainsRune(target, 0) {
		return fmt.Errorf("empty link target: %w", ErrUnsafe)
	}
	if strings.HasPrefix(target, "/") {
		return nil
	}
	joined := path.Join(path.Dir(name), target)
	if joined == ".." || strings.HasPrefix(joined, "../") {
		return fmt.Errorf("link to %q points outside the tree: %w", target, ErrUnsafe)
	}
	return nil
}

// checkParents makes sure no folder on the way to name is a link, so a
// member can never be written through a link to somewhere else.
func checkParents(dest, name string) error {
	cur := dest
	parts := strings.Split(name, "/")
	for _, elem := range parts[:len(parts)-1] {
		cur = filepath.Join(cur, elem)
		fi, err := os.Lstat(cur)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return fmt.Errorf("would be written through the link %q: %w", elem, ErrUnsafe)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%q is a file, not a folder: %w", elem, ErrUnsafe)
		}
	}
	return nil
}

func writeMember(target string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	// O_EXCL: a duplicate member must not overwrite, or follow a link
	// planted by an earlier member.
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, io.LimitReader(r, fsroot.MaxFileSize+1)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
