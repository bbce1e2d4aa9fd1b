// Command compose-check loads a Compose file with Docker Compose's own loader (compose-go) and
// prints the resolved project as JSON: interpolated, merged, extended, normalised and checked
// against the Compose Specification, the way `docker compose config` would see it.
//
//	compose-check [-f FILE]... [--env-file FILE]... [--profile NAME]... [-q]
//
// Without -f it finds compose.yaml or docker-compose.yml in the working directory or above, as
// docker compose does. Without --profile every profile is enabled ("*"). Variables come from the
// process environment, then the env files (.env beside the file when none is named), as docker
// compose takes them. A file compose would refuse makes it print compose-go's error on stderr and
// exit 1; a bad command line exits 2.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/sirupsen/logrus"
)

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("compose-check", flag.ContinueOnError)
	flags.SetOutput(stderr)
	var files, envFiles, profiles stringList
	flags.Var(&files, "f", "Compose file (repeatable; later files merge over earlier ones)")
	flags.Var(&envFiles, "env-file", "env file for interpolation (repeatable; default .env when present)")
	flags.Var(&profiles, "profile", `profile to enable (repeatable; default "*", every profile)`)
	quiet := flags.Bool("q", false, "print nothing on success")
	if err := flags.Parse(args); err != nil {
		return 2
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "compose-check: unexpected argument %q\n", flags.Arg(0))
		return 2
	}
	if len(profiles) == 0 {
		profiles = stringList{"*"}
	}
	// compose-go reports warnings (obsolete keys and the like) through logrus: keep them on stderr
	logrus.SetOutput(stderr)

	options, err := cli.NewProjectOptions(files,
		cli.WithOsEnv,
		cli.WithDefaultConfigPath,
		cli.WithEnvFiles(envFiles...),
		cli.WithDotEnv,
		cli.WithProfiles(profiles),
	)
	if err != nil {
		fmt.Fprintf(stderr, "compose-check: %v\n", err)
		return 1
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintf(stderr, "compose-check: %v\n", err)
		return 1
	}
	if *quiet {
		return 0
	}
	out, err := project.MarshalJSON()
	if err != nil {
		fmt.Fprintf(stderr, "compose-check: %v\n", err)
		return 1
	}
	if _, err := fmt.Fprintln(stdout, string(out)); err != nil {
		return 1
	}
	return 0
}
