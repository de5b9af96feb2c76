package kb

import (
	_ "embed" // recipes.yaml
	"fmt"
	"strings"
	"sync"

	"github.com/rocm-patch/rocm-patch/internal/lazyre"
)

// RecipesSchema names the format of recipes.yaml.
const RecipesSchema = "rocm-patch/recipes/v1"

// recipesFileName is the training recipes' file, beside settings.yaml.
const recipesFileName = "recipes.yaml"

// embeddedRecipes is recipes.yaml. It is embedded on its own, not through
// the knowledge base's file system, so that recipes load without touching
// the entries, the catalogue or their loader.
//
//go:embed recipes.yaml
var embeddedRecipes []byte

// RecipeCommand says how a training recipe reaches the job.
type RecipeCommand string

// The commands a recipe may name.
const (
	// CommandYOLOTrain: the Ultralytics CLI in train mode, whose settings
	// are key=value words that rocm-patch can append.
	CommandYOLOTrain RecipeCommand = "yolo-train"
	// CommandScript: a framework configured in the user's Python code;
	// nothing can be added from outside, so the recipe is advice.
	CommandScript RecipeCommand = "script"
)

// TrainingRecipe is what `rocm-patch run --recipe NAME` does for one
// training framework: the safe settings of the project's documented
// production issues, for the GPU families that fault. It is data
// (recipes.yaml), like the ladder and the kernel profiles.
type TrainingRecipe struct {
	// Name is kebab-case; users pick a recipe with --recipe NAME.
	Name string `yaml:"name"`
	// Description says what the recipe is for and where it comes from.
	Description string `yaml:"description"`
	// Only is the GPUs the recipe is for; required, so that other GPUs
	// never pay for settings meant for the ones that fault.
	Only *Selector `yaml:"only"`
	// Command says how the recipe reaches the job.
	Command RecipeCommand `yaml:"command"`
	// Arguments are added to a yolo-train command, each only when the user
	// did not set it; empty for a script recipe.
	Arguments []RecipeArgument `yaml:"arguments"`
	// Advice is what the user should set themselves, one item each; a
	// script recipe's whole content.
	Advice []string `yaml:"advice"`
	// Sources back the recipe's claims.
	Sources []string `yaml:"sources"`
	// File is the path the recipe was loaded from.
	File string `yaml:"-"`
}

// RecipeArgument is one key=value argument of a recipe.
type RecipeArgument struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
	// Default is the framework's own value, for the documentation; "" when
	// not recorded.
	Default string `yaml:"default"`
	// Why says why the recipe holds the argument; Cost what it takes away.
	Why  string `yaml:"why"`
	Cost string `yaml:"cost"`
}

// String is the argument as it goes on the command line: key=value.
func (a RecipeArgument) String() string { return a.Key + "=" + a.Value }

// For reports whether the recipe is meant for a GPU with this target and
// family.
func (r *TrainingRecipe) For(target, family string) bool {
	return r.Only != nil && r.Only.Matches(target, family)
}

type recipesFile struct {
	Schema  string            `yaml:"schema"`
	Recipes []*TrainingRecipe `yaml:"recipes"`
}

// recipeKey is what an argument's key must look like: an Ultralytics
// argument name.
var recipeKey = lazyre.New(`^[a-z][a-z0-9_]*$`)

// recipeValue is what a value may hold: one word that no shell, and no
// key=value parser, splits or reinterprets.
var recipeValue = lazyre.New(`^[A-Za-z0-9_.+-]+$`)

// reservedKeys are arguments a recipe must not set: they decide what is
// trained and where (the user's), the device (the retry ladder's CPU
// attempt adds device=cpu), or where runs are saved (--resume ultralytics
// looks for runs/*/*/weights/last.pt).
var reservedKeys = []string{"mode", "task", "model", "data", "cfg", "resume", "device", "project", "name"}

var loadRecipes = sync.OnceValues(func() ([]*TrainingRecipe, error) {
	return parseRecipes(recipesFileName, embeddedRecipes)
})

// TrainingRecipes returns the recipes embedded in the binary, in file
// order, parsed and validated once. The recipes are shared and must not be
// modified.
func TrainingRecipes() ([]*TrainingRecipe, error) {
	rs, err := loadRecipes()
	if err != nil {
		return nil, fmt.Errorf("knowledge base: %w", err)
	}
	return append([]*TrainingRecipe(nil), rs...), nil
}

// FindTrainingRecipe returns the embedded recipe with this name; the error
// of an unknown name lists the known ones.
func FindTrainingRecipe(name string) (*TrainingRecipe, error) {
	rs, err := TrainingRecipes()
	if err != nil {
		return nil, err
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		if r.Name == name {
			return r, nil
		}
		names[i] = r.Name
	}
	return nil, fmt.Errorf("unknown recipe %q (%s)", name, strings.Join(names, ", "))
}

// parseRecipes decodes and validates recipes.yaml. It never panics,
// whatever the input.
func parseRecipes(name string, data []byte) ([]*TrainingRecipe, error) {
	var rf recipesFile
	if err := decodeStrict(data, &rf); err != nil {
		return nil, &fieldError{file: name, err: err}
	}
	if rf.Schema != RecipesSchema {
		return nil, ferr(name, "schema", "%q, want %q", rf.Schema, RecipesSchema)
	}
	seen := map[string]bool{}
	for i, r := range rf.Recipes {
		field := fmt.Sprintf("recipes[%d]", i)
		if r == nil {
			return nil, ferr(name, field, "empty")
		}
		if r.Name != "" {
			field = fmt.Sprintf("recipes[%d] (%s)", i, r.Name)
		}
		if err := checkRecipe(name, field, r); err != nil {
			return nil, err
		}
		if seen[r.Name] {
			return nil, ferr(name, field+".name", "duplicate name %q", r.Name)
		}
		seen[r.Name] = true
		r.File = name
	}
	return rf.Recipes, nil
}

// checkRecipe checks one recipe against the rules in recipes.yaml's
// header.
func checkRecipe(name, field string, r *TrainingRecipe) error {
	switch {
	case !idPattern.MatchString(r.Name):
		return ferr(name, field+".name", "%q is not kebab-case", r.Name)
	case strings.TrimSpace(r.Description) == "":
		return ferr(name, field+".description", "empty")
	case r.Only == nil || len(r.Only.Families)+len(r.Only.Targets) == 0:
		return ferr(name, field+".only", "empty: a recipe changes training for the GPUs that fault; list their families or gfx_targets")
	case len(r.Sources) == 0:
		return ferr(name, field+".sources", "empty: say where the settings come from")
	}
	if err := checkSelector(name, field+".only", r.Only); err != nil {
		return err
	}
	for i, s := range r.Sources {
		if strings.TrimSpace(s) == "" {
			return ferr(name, fmt.Sprintf("%s.sources[%d]", field, i), "empty")
		}
	}
	for i, a := range r.Advice {
		if strings.TrimSpace(a) == "" {
			return ferr(name, fmt.Sprintf("%s.advice[%d]", field, i), "empty")
		}
	}
	switch r.Command {
	case CommandYOLOTrain:
		if len(r.Arguments) == 0 {
			return ferr(name, field+".arguments", "empty: a %s recipe must add something", r.Command)
		}
	case CommandScript:
		if len(r.Arguments) > 0 {
			return ferr(name, field+".arguments", "a %s recipe cannot add arguments: the settings live in the user's code; use advice", r.Command)
		}
		if len(r.Advice) == 0 {
			return ferr(name, field+".advice", "empty: a %s recipe is its advice", r.Command)
		}
	default:
		return ferr(name, field+".command", "unknown command %q (%s, %s)", r.Command, CommandYOLOTrain, CommandScript)
	}
	keys := map[string]bool{}
	for i, a := range r.Arguments {
		af := fmt.Sprintf("%s.arguments[%d]", field, i)
		switch {
		case !recipeKey().MatchString(a.Key):
			return ferr(name, af+".key", "%q is not an argument name (lowercase letters, digits, _)", a.Key)
		case contains(reservedKeys, a.Key):
			return ferr(name, af+".key", "%q is not a recipe's to set (%s are the user's, the ladder's or resume's)", a.Key, strings.Join(reservedKeys, ", "))
		case keys[a.Key]:
			return ferr(name, af+".key", "%s is set twice", a.Key)
		case !recipeValue().MatchString(a.Value):
			return ferr(name, af+".value", "%q is not one plain word (letters, digits, _ . + -)", a.Value)
		case a.Default != "" && !recipeValue().MatchString(a.Default):
			return ferr(name, af+".default", "%q is not one plain word (letters, digits, _ . + -)", a.Default)
		case a.Default == a.Value:
			return ferr(name, af+".value", "%s is the default; a recipe adds what changes something", a)
		case strings.TrimSpace(a.Why) == "":
			return ferr(name, af+".why", "empty: say why the recipe holds it")
		case strings.TrimSpace(a.Cost) == "":
			return ferr(name, af+".cost", "empty: say what it costs")
		}
		keys[a.Key] = true
	}
	return nil
}
