package sdk

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rocm-patch/rocm-patch/internal/envlayer"
	"github.com/rocm-patch/rocm-patch/internal/system"
)

// EnvSchema names the JSON form of an activation.
const EnvSchema = "rocm-patch/sdk-env/v1"

// Render writes the activation of in for a shell, with the quoting of
// package envlayer so that every value reads back as its exact bytes.
// bash, zsh and fish prepend to the variables as the shell holds them when
// the output is evaluated; an env file and a systemd unit cannot refer to
// another variable, so for dotenv and systemd the prepended values are
// resolved against env, the environment this command runs in, and a
// comment says so. JSON lists each variable with its action.
func Render(in system.Install, sh envlayer.Shell, env []string) (string, error) {
	vars, err := Activation(in.Path)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	comment := func(s string) { b.WriteString("# " + envlayer.CommentSafe(s) + "\n") }
	what := "Activates the ROCm installation at " + in.Path
	if in.Version != "" {
		what += " (" + in.Version + ")"
	}
	switch sh {
	case envlayer.Bash, envlayer.Zsh:
		comment(what + ".")
		flags := ""
		if sh != envlayer.Bash {
			flags = " --shell " + string(sh)
		}
		comment(`Load with: eval "$(rocm-patch sdk env` + flags + " " + envlayer.QuotePOSIX(in.Path) + `)"`)
		for _, v := range vars {
			if v.Prepend {
				// ${VAR:+:$VAR} adds the old value only when it is set
				// and not empty: an empty element would mean the
				// current folder.
				fmt.Fprintf(&b, "export %s=%s\"${%s:+:$%s}\"\n", v.Name, envlayer.QuotePOSIX(v.Value), v.Name, v.Name)
			} else {
				fmt.Fprintf(&b, "export %s=%s\n", v.Name, envlayer.QuotePOSIX(v.Value))
			}
		}
	case envlayer.Fish:
		comment(what + ".")
		comment("Load with: rocm-patch sdk env --shell fish " + envlayer.QuoteFish(in.Path) + " | source")
		for _, v := range vars {
			if v.Prepend {
				// fish holds *PATH variables as lists and joins them
				// with ':' on export. A set but empty one is a list of
				// one empty element, which would export a trailing ':'
				// (the current folder), so it is tested first.
				fmt.Fprintf(&b, "if test -n \"$%s\"; set -gx %s %s $%s; else; set -gx %s %s; end\n",
					v.Name, v.Name, envlayer.QuoteFish(v.Value), v.Name, v.Name, envlayer.QuoteFish(v.Value))
			} else {
				fmt.Fprintf(&b, "set -gx %s %s\n", v.Name, envlayer.QuoteFish(v.Value))
			}
		}
	case envlayer.Dotenv, envlayer.Systemd:
		comment(what + ".")
		comment("PATH and LD_LIBRARY_PATH are resolved against the environment this command ran in: this format cannot refer to another variable.")
		resolved, err := Activate(env, in.Path)
		if err != nil {
			return "", err
		}
		values := lookup(resolved)
		if sh == envlayer.Systemd {
			b.WriteString("[Service]\n")
		}
		for _, v := range vars {
			if sh == envlayer.Systemd {
				fmt.Fprintf(&b, "Environment=%s\n", envlayer.QuoteSystemd(v.Name+"="+values[v.Name]))
				continue
			}
			q, err := envlayer.QuoteDotenv(values[v.Name])
			if err != nil {
				return "", fmt.Errorf("%s: %w", v.Name, err)
			}
			fmt.Fprintf(&b, "%s=%s\n", v.Name, q)
		}
	case envlayer.JSON:
		return renderJSON(in, vars)
	default:
		return "", fmt.Errorf("render: unknown shell %q", sh)
	}
	return b.String(), nil
}

func lookup(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

type jsonEnv struct {
	Schema    string    `json:"schema"`
	Path      string    `json:"path"`
	Version   string    `json:"version"`
	Variables []jsonVar `json:"variables"`
}

type jsonVar struct {
	Name string `json:"name"`
	// Action is "set" or "prepend" (value, then ':' and the old value
	// when that is set and not empty).
	Action string `json:"action"`
	Value  string `json:"value"`
}

func renderJSON(in system.Install, vars []Var) (string, error) {
	doc := jsonEnv{Schema: EnvSchema, Path: in.Path, Version: in.Version, Variables: []jsonVar{}}
	for _, v := range vars {
		action := "set"
		if v.Prepend {
			action = "prepend"
		}
		doc.Variables = append(doc.Variables, jsonVar{Name: v.Name, Action: action, Value: v.Value})
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return "", fmt.Errorf("render json: %w", err)
	}
	return string(data) + "\n", nil
}
