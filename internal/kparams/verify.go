package kparams

// Check is the verdict on one wanted parameter.
type Check struct {
	Param Param
	// Live is the value in /sys/module/amdgpu/parameters; LiveKnown is
	// false when the file is missing or unreadable.
	Live      string
	LiveKnown bool
	// Took is true when the live value equals the wanted one.
	Took bool
	// Others are other sources setting the same parameter, which may be
	// why it did not take.
	Others []Source
}

// Verification compares wanted values with the running driver.
type Verification struct {
	// Loaded is false when amdgpu is not loaded: nothing can be checked.
	Loaded bool
	Checks []Check
}

// AllTook reports whether amdgpu is loaded and every wanted parameter has
// its value.
func (v Verification) AllTook() bool {
	if !v.Loaded {
		return false
	}
	for _, c := range v.Checks {
		if !c.Took {
			return false
		}
	}
	return true
}

// Verify compares wanted parameters with the live ones. Values compare as
// numbers where both are integers, since sysfs prints some in hex and
// booleans as Y/N.
func Verify(wanted []Param, loaded bool, live map[string]string, others []Source) Verification {
	v := Verification{Loaded: loaded}
	for _, w := range wanted {
		c := Check{Param: w}
		if loaded {
			c.Live, c.LiveKnown = live[w.Name]
			c.Took = c.LiveKnown && sameValue(c.Live, w.Value)
		}
		for _, o := range others {
			if o.Param.Name == w.Name {
				c.Others = append(c.Others, o)
			}
		}
		v.Checks = append(v.Checks, c)
	}
	return v
}
