package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildPatchesTheFyneModule patches a copy of the Fyne module this
// build uses: every edit lands once at its place, tillpay's files are
// added, and the rest of the module is an unchanged copy.
func TestBuildPatchesTheFyneModule(t *testing.T) {
	mod, err := findModule(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "fyne")
	if err := Build(mod.Dir, out); err != nil {
		t.Fatal(err)
	}
	for _, e := range edits {
		got := read(t, filepath.Join(out, e.File))
		if n := strings.Count(got, e.result()); n != 1 {
			t.Errorf("%s: edit %q found %d times", e.File, e.Why, n)
		}
	}
	for _, target := range added {
		if got := read(t, filepath.Join(out, target)); !strings.Contains(got, "tillpay") {
			t.Errorf("%s: not tillpay's file", target)
		}
	}
	// An edited file differs from Fyne's by the inserted lines only.
	orig := read(t, filepath.Join(mod.Dir, "internal/driver/glfw/loop.go"))
	got := read(t, filepath.Join(out, "internal/driver/glfw/loop.go"))
	for _, e := range edits {
		if e.File == "internal/driver/glfw/loop.go" {
			got = strings.Replace(got, e.result(), e.Anchor, 1)
		}
	}
	if got != orig {
		t.Error("loop.go: changed beyond the edits")
	}
	if a, b := read(t, filepath.Join(mod.Dir, "app.go")), read(t, filepath.Join(out, "app.go")); a != b {
		t.Error("app.go: not an exact copy")
	}
	// A second build over the first starts afresh.
	if err := Build(mod.Dir, out); err != nil {
		t.Fatalf("second build: %v", err)
	}
	if got := read(t, filepath.Join(out, "internal/driver/glfw/driver.go")); strings.Count(got, "idleWake()") != 1 {
		t.Errorf("driver.go after a second build: %d wakes", strings.Count(got, "idleWake()"))
	}
}

// TestApplyNeedsItsPlaceExactlyOnce: a Fyne whose code moved is refused
// with the place named, not patched at a guess.
func TestApplyNeedsItsPlaceExactlyOnce(t *testing.T) {
	e := edits[0]
	for name, src := range map[string]string{
		"missing": "package glfw\n",
		"twice":   "package glfw\n" + e.Anchor + e.Anchor,
	} {
		_, err := apply(src, e)
		if !errors.Is(err, ErrPlaceMissing) {
			t.Errorf("%s: got %v, want ErrPlaceMissing", name, err)
		} else if !strings.Contains(err.Error(), e.File) {
			t.Errorf("%s: %v does not name the file", name, err)
		}
	}
	got, err := apply("a\n"+e.Anchor+"b\n", e)
	if err != nil || got != "a\n"+e.result()+"b\n" {
		t.Errorf("apply = %q, %v", got, err)
	}
}

// TestBuildRefusesAnUnexpectedFyne: a module without the expected code
// fails with the file named (and run then writes no workspace).
func TestBuildRefusesAnUnexpectedFyne(t *testing.T) {
	fake := t.TempDir()
	dir := filepath.Join(fake, "internal/driver/glfw")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "loop.go"), []byte("package glfw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Build(fake, filepath.Join(t.TempDir(), "out"))
	if !errors.Is(err, ErrPlaceMissing) || !strings.Contains(err.Error(), "loop.go") {
		t.Fatalf("got %v", err)
	}
}

// TestPOSIXLocaleIsEnglish builds a program that starts Fyne's lang
// package (it reads the user's locales when it loads its translations) and
// runs it under LANG=C.UTF-8, Debian's and most containers' default: with
// the patched Fyne it says "en" and logs nothing; Fyne as released logs an
// error at the start of every program (if it stops doing so, the edits to
// lang/locale.go can go).
func TestPOSIXLocaleIsEnglish(t *testing.T) {
	ctx := context.Background()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	work := filepath.Join(tmp, "go.work")
	if err := run(ctx, root, filepath.Join(tmp, "fyne"), work); err != nil {
		t.Fatal(err)
	}
	start := func(gowork string) (stdout, stderr string) {
		t.Helper()
		bin := filepath.Join(tmp, "langstart-"+filepath.Base(gowork))
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./tools/fynepatch/testdata/langstart")
		build.Dir, build.Env = root, append(os.Environ(), "GOWORK="+gowork)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build with GOWORK=%s: %v\n%s", gowork, err, out)
		}
		var o, e strings.Builder
		cmd := exec.CommandContext(ctx, bin)
		cmd.Env = []string{"LANG=C.UTF-8"}
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s: %v\n%s", bin, err, e.String())
		}
		return o.String(), e.String()
	}
	if out, errs := start(work); out != "en\n" || errs != "" {
		t.Errorf("patched Fyne under LANG=C.UTF-8: printed %q, logged %q; want \"en\" and nothing", out, errs)
	}
	if _, errs := start("off"); !strings.Contains(errs, "Error parsing user locale") {
		t.Errorf("Fyne as released no longer logs the POSIX locale as an error (logged %q): drop the lang/locale.go edits", errs)
	}
}

func TestWorkspace(t *testing.T) {
	root := t.TempDir()
	got, err := Workspace(filepath.Join(root, ".build/go.work"), root, filepath.Join(root, ".build/fyne"), "1.26.0", "v2.7.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\ngo 1.26.0\n", "\nuse ..\n", "\nreplace fyne.io/fyne/v2 v2.7.1 => ./fyne\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("workspace lacks %q:\n%s", want, got)
		}
	}
}

func TestGoDirective(t *testing.T) {
	path := filepath.Join(t.TempDir(), "go.mod")
	if err := os.WriteFile(path, []byte("module x\n\ngo 1.26.0\n\nrequire y v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if v, err := goDirective(path); err != nil || v != "1.26.0" {
		t.Errorf("goDirective = %q, %v", v, err)
	}
	if err := os.WriteFile(path, []byte("module x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := goDirective(path); err == nil {
		t.Error("a go.mod with no go line was accepted")
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
