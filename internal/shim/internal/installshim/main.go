// Command installshim installs the shim with shim.Install under the cache
// root given as its argument (default: the user's cache folder) and prints
// the folder to put on PYTHONPATH. scripts/bench-shim.sh uses it to measure
// exactly what `rocm-patch run` installs.
package main

import (
	"fmt"
	"os"

	"github.com/rocm-patch/rocm-patch/internal/shim"
)

func main() {
	root := ""
	if len(os.Args) > 1 {
		root = os.Args[1]
	} else {
		r, err := shim.DefaultCacheRoot(os.Getenv)
		if err != nil {
			fmt.Fprintln(os.Stderr, "installshim:", err)
			os.Exit(1)
		}
		root = r
	}
	d, err := shim.Install(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, "installshim:", err)
		os.Exit(1)
	}
	fmt.Println(d.Path)
}
