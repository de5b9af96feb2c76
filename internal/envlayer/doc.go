// Package envlayer turns a policy's plan into environment variables and
// writes them for a shell (bash, zsh, fish), an env file (dotenv), a
// systemd unit (Environment=), a Slurm TaskProlog or as JSON.
//
// It is pure: [FromReport] reads a doctor report and the settings
// catalogue, [Render] returns text. Each variable carries a comment with
// why this machine gets it (from the plan), what it does and what it costs
// (from the catalogue, never restated here). Quoting is exact: the shell or
// parser reads back the very bytes of the value, or Render refuses it.
package envlayer
