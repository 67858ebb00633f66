// Command fynepatch writes the Go workspace in which tillpay's window is
// built: Fyne with three changes for a till that runs all day.
//
//   - An idle event loop. Fyne 2.7's desktop event loop wakes 60 times a
//     second for as long as the window is open, drawn or not; on a till that
//     costs a steady 1–1.5 % of a core. The patched loop keeps 60 Hz while
//     anything happens and, after half a second with nothing drawn, queued or
//     animated, blocks in glfwWaitEventsTimeout until input, a fyne.Do call
//     or Quit wakes it (overlay/idle_glfw.go.txt). Fyne's upstream discussion
//     of the same change: fyne-io/fyne issue 2506 and pull request 5422.
//   - The system language's font loaded when a character needs it rather
//     than with every text style (overlay/langfont.go.txt): in an English
//     session Fyne would otherwise parse a Latin system font per style that
//     its own fonts already cover, several MB each.
//   - The POSIX locale (LANG=C, usual on servers and in containers) read as
//     English (overlay/posixlocale.go.txt), where Fyne logs an error at the
//     start of every command of the binary.
//
// The workspace replaces Fyne with a copy of the module from the module
// cache, in which a few lines are changed at named places and tillpay's own
// files are added. Nothing of Fyne's is kept in this repository; if a Fyne
// upgrade moves a place, fynepatch fails and says which.
//
//	go run ./tools/fynepatch -out .build/fyne -work .build/go.work
//	GOWORK=$PWD/.build/go.work go build .
//
// The Makefile does both; a build without the workspace is a working till
// with Fyne as released.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// fyneModule is the module the overlay patches.
const fyneModule = "fyne.io/fyne/v2"

func main() {
	out := flag.String("out", ".build/fyne", "directory for the patched copy of Fyne")
	work := flag.String("work", ".build/go.work", "the workspace file to write")
	flag.Parse()
	root, err := os.Getwd()
	if err == nil {
		err = run(context.Background(), root, *out, *work)
	}
	if err != nil {
		slog.Error("fynepatch failed", "err", err)
		os.Exit(1)
	}
}

// run patches a copy of the Fyne module the build uses and writes the
// workspace that builds the module at root with it.
func run(ctx context.Context, root, out, work string) error {
	goVersion, err := goDirective(filepath.Join(root, "go.mod"))
	if err != nil {
		return err
	}
	mod, err := findModule(ctx)
	if err != nil {
		return err
	}
	if out, err = filepath.Abs(out); err != nil {
		return err
	}
	if work, err = filepath.Abs(work); err != nil {
		return err
	}
	if err := Build(mod.Dir, out); err != nil {
		return err
	}
	ws, err := Workspace(work, root, out, goVersion, mod.Version)
	if err != nil {
		return err
	}
	if err := os.WriteFile(work, []byte(ws), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", work, err)
	}
	fmt.Println(work)
	return nil
}

// goDirective reads the go line of a go.mod file.
func goDirective(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading the module's go.mod: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s has no go line", path)
}

// module is what go mod download -json says of a module.
type module struct{ Dir, Version, Error string }

// findModule asks the go command where the Fyne module the build uses lives,
// downloading it if needed.
func findModule(ctx context.Context) (module, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", fyneModule)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	outBytes, err := cmd.Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return module{}, fmt.Errorf("go mod download %s: %w: %s", fyneModule, err, exit.Stderr)
		}
		return module{}, fmt.Errorf("go mod download %s: %w", fyneModule, err)
	}
	var mod module
	if err := json.Unmarshal(outBytes, &mod); err != nil {
		return module{}, fmt.Errorf("go mod download %s: %w", fyneModule, err)
	}
	if mod.Dir == "" || mod.Version == "" {
		return module{}, fmt.Errorf("go mod download %s: no directory (%s)", fyneModule, mod.Error)
	}
	return mod, nil
}
