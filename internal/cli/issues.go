package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rocm-patch/rocm-patch/internal/kb"
)

// issuesSchema names the JSON list of knowledge-base entries.
const issuesSchema = "rocm-patch/issues/v1"

func (a *app) newIssuesCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "issues [show ID]",
		Short: "List the known failures rocm-patch recognises, or explain one",
		Long: `issues lists the knowledge base: every known failure of ROCm and PyTorch on
AMD GPUs that diagnose recognises and doctor reasons with, with its class.
'issues show ID' explains one, as 'rustc --explain' does: where it happens,
why, what to do, and what the source really shows about settings that
earlier write-ups got wrong. The same pages are in docs/issues/.`,
		Example: `  rocm-patch issues
  rocm-patch issues show hsa-override-wrong-family`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := kb.Load()
			if err != nil {
				return err
			}
			if asJSON {
				return writeIssuesJSON(a.stdout, k)
			}
			return writeIssues(a.stdout, k)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON (schema rocm-patch/issues/v1)")
	show := &cobra.Command{
		Use:   "show ID",
		Short: "Explain one known failure",
		Args:  cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			k, err := kb.Load()
			if err != nil || len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var ids []string
			for _, e := range k.All() {
				ids = append(ids, e.ID)
			}
			return ids, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			k, err := kb.Load()
			if err != nil {
				return err
			}
			e, ok := k.Get(args[0])
			if !ok {
				return usageError("no known issue %q; 'rocm-patch issues' lists them%s", args[0], suggest(k, args[0]))
			}
			return e.Render(a.stdout)
		},
	}
	cmd.AddCommand(show)
	return cmd
}

// suggest names the ids that contain what the user typed.
func suggest(k *kb.KB, typed string) string {
	var near []string
	for _, e := range k.All() {
		if strings.Contains(e.ID, strings.ToLower(typed)) || strings.Contains(strings.ToLower(typed), e.ID) {
			near = append(near, e.ID)
		}
	}
	if len(near) == 0 {
		return ""
	}
	return " (did you mean " + strings.Join(near, ", ") + "?)"
}

func writeIssues(w io.Writer, k *kb.KB) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCLASS\tTITLE")
	for _, e := range k.All() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", e.ID, e.Class, e.Title)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(w, "\nrocm-patch issues show ID explains one.")
	return err
}

func writeIssuesJSON(w io.Writer, k *kb.KB) error {
	type item struct {
		ID       string   `json:"id"`
		Class    string   `json:"class"`
		Title    string   `json:"title"`
		Families []string `json:"families"`
	}
	doc := struct {
		Schema string `json:"schema"`
		Issues []item `json:"issues"`
	}{Schema: issuesSchema, Issues: []item{}}
	for _, e := range k.All() {
		fam := e.AppliesTo.Families
		if fam == nil {
			fam = []string{}
		}
		doc.Issues = append(doc.Issues, item{ID: e.ID, Class: string(e.Class), Title: e.Title, Families: fam})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}
