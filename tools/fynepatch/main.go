// Command fynepatch writes a Go build overlay (go build -overlay) that gives
// Fyne's desktop driver an idle mode.
//
// Fyne 2.7's desktop event loop wakes 60 times a second for as long as the
// window is open, drawn or not; on a till that idles most of the day that
// costs a steady 1–1.5 % of a core. The overlay keeps the 60 Hz loop while
// anything happens and, after half a second with nothing drawn, queued or
// animated, blocks in glfwWaitEventsTimeout until input, a fyne.Do call or
// Quit wakes it (see overlay/idle_glfw.go.txt). Fyne's upstream discussion of
// the same change: fyne-io/fyne issue 2506 and pull request 5422.
//
// The overlay is built from the Fyne module in the module cache: a few
// lines are inserted at named places of two of its files, and two files of
// tillpay's own are added to its packages. Nothing of Fyne's is kept in this
// repository; if a Fyne upgrade moves a place, fynepatch fails and says
// which.
//
//	go run ./tools/fynepatch -out .build/fyne     # writes .build/fyne/overlay.json
//	go build -overlay .build/fyne/overlay.json .
//
// The Makefile does both; a build without the overlay is a working till
// whose window keeps Fyne's plain loop.
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
	if err := run(context.Background(), *out, *work); err != nil {
		slog.Error("fynepatch failed", "err", err)
		os.Exit(1)
	}
}

// run patches a copy of the Fyne module the build uses and writes the
// workspace that builds the module in the current directory with it.
func run(ctx context.Context, out, work string) error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
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
