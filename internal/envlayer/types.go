package envlayer

// Var is one variable of a layer, with the three things its comment says.
type Var struct {
	Name  string
	Value string
	// Unset asks for the variable to be removed; Value is then ignored.
	Unset bool
	// Setting is the settings-catalogue id the comments come from.
	Setting string
	// Does and Cost come from the catalogue; Why from the plan.
	Does string
	Cost string
	Why  string
	GPUs []int
}

// Layer is an environment layer ready to render.
type Layer struct {
	Policy string
	// Header and Notes are comment lines printed before the variables.
	Header []string
	Notes  []string
	Vars   []Var
}
