package main

import (
	"embed"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
)

//go:embed overlay/*.go.txt
var ownFiles embed.FS

// ErrPlaceMissing means that a place the workspace changes is not in
// the Fyne source exactly once (another Fyne version).
var ErrPlaceMissing = errors.New("place not found exactly once")

// edit changes one place of a Fyne file: Before goes in front of the anchor
// text and After behind it; a non-empty Replace takes the anchor's place.
type edit struct {
	File    string // relative to the module directory
	Anchor  string
	Before  string
	After   string
	Replace string
	Why     string
}

// edits are the changes to Fyne's own files; each names why.
var edits = []edit{
	{File: "internal/driver/glfw/loop.go",
		Anchor: "\t\tfuncQueue.In() <- funcData{f: f, done: done}\n",
		Before: "\t\tidleQueued()\n", After: "\t\tidleWake()\n",
		Why: "count a queued function and wake an idle wait (fyne.DoAndWait)"},
	{File: "internal/driver/glfw/loop.go",
		Anchor: "\t\tfuncQueue.In() <- funcData{f: f}\n",
		Before: "\t\tidleQueued()\n", After: "\t\tidleWake()\n",
		Why: "count a queued function and wake an idle wait (fyne.Do)"},
	{File: "internal/driver/glfw/loop.go",
		Anchor: "\t\tcase f := <-funcQueue.Out():\n",
		After:  "\t\t\tidleRan()\n",
		Why:    "a queued function ran: the loop is busy"},
	{File: "internal/driver/glfw/loop.go",
		Anchor: "\t\t\td.animation.TickAnimations()\n\t\t\td.drawSingleFrame()\n",
		After:  "\t\t\td.idleAfterFrame(eventTick)\n",
		Why:    "after each frame, wait for events once quiet"},
	{File: "internal/driver/glfw/loop.go",
		Anchor: "func (d *gLDriver) repaintWindow(w *window) bool {\n",
		After:  "\tidleDrew()\n",
		Why:    "a window was drawn: the loop is busy"},
	{File: "internal/driver/glfw/driver.go",
		Anchor: "\t\tclose(d.done)\n",
		After:  "\t\tidleWake()\n",
		Why:    "Quit wakes an idle wait so that the loop sees it"},
	{File: "internal/painter/font.go",
		Anchor:  "\tlocal := lookupLangFont(family, aspect)\n\tif local != nil {\n\t\tfaces.addFace(local)\n\t}\n",
		Replace: "\tdeferLangFont(faces, aspect)\n",
		Why:     "load the system language's font when a character needs it, not with every text style"},
	{File: "internal/painter/font.go",
		Anchor: "\tfontCache.Clear()\n\tfontCustomCache.Clear()\n",
		After:  "\tlangPending.Clear()\n",
		Why:    "the font maps a cleared cache dropped hold no pending language font"},
	{File: "internal/painter/font.go",
		Anchor: "\ttoAdd := lookupRuneFont(r, d.family, font.Aspect{})\n",
		Before: "\tif f := resolveLangFont(d, r); f != nil {\n\t\treturn f\n\t}\n",
		Why:    "a character missing from the theme's fonts tries the language's font first, as before"},
	{File: "lang/locale.go",
		Anchor: "\tif len(loc) < 2 {\n\t\tloc = \"en\"\n\t}\n",
		Before: "\tloc = posixAsEnglish(loc)\n",
		Why:    "the POSIX locale (LANG=C) is English, not an error logged at start"},
	{File: "lang/locale.go",
		Anchor: "\tfor i, loc := range locs {\n",
		After:  "\t\tloc = posixAsEnglish(loc)\n",
		Why:    "the POSIX locale among the user's locales is English, not an error logged at start"},
}

// added are tillpay's own files, put into Fyne's packages.
var added = map[string]string{
	"overlay/idle_glfw.go.txt":      "internal/driver/glfw/idle_tillpay.go",
	"overlay/idle_animation.go.txt": "internal/animation/idle_tillpay.go",
	"overlay/langfont.go.txt":       "internal/painter/langfont_tillpay.go",
	"overlay/posixlocale.go.txt":    "lang/posixlocale_tillpay.go",
}

// Build copies the Fyne module at moduleDir to out, makes the edits and adds
// tillpay's files there.
func Build(moduleDir, out string) error {
	if err := os.RemoveAll(out); err != nil {
		return fmt.Errorf("clearing %s: %w", out, err)
	}
	if err := os.CopyFS(out, os.DirFS(moduleDir)); err != nil {
		return fmt.Errorf("copying Fyne from %s: %w", moduleDir, err)
	}
	files := map[string]string{}
	for _, e := range edits {
		src, ok := files[e.File]
		if !ok {
			b, err := os.ReadFile(filepath.Join(out, e.File))
			if err != nil {
				return fmt.Errorf("reading Fyne's %s: %w", e.File, err)
			}
			src = string(b)
		}
		patched, err := apply(src, e)
		if err != nil {
			return err
		}
		files[e.File] = patched
	}
	for own, target := range added {
		b, err := ownFiles.ReadFile(own)
		if err != nil {
			return fmt.Errorf("reading %s: %w", own, err)
		}
		files[target] = string(b)
	}
	for rel, src := range files {
		if _, err := parser.ParseFile(token.NewFileSet(), rel, src, parser.SkipObjectResolution); err != nil {
			return fmt.Errorf("patched %s does not parse: %w", rel, err)
		}
		if err := os.WriteFile(filepath.Join(out, filepath.FromSlash(rel)), []byte(src), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", rel, err)
		}
	}
	return nil
}

// Workspace returns a go.work file, to be written at workFile, that builds
// the module at moduleRoot with Fyne replaced by the patched copy at out.
func Workspace(workFile, moduleRoot, out, goVersion, fyneVersion string) (string, error) {
	base := filepath.Dir(workFile)
	use, err := filepath.Rel(base, moduleRoot)
	if err != nil {
		return "", fmt.Errorf("workspace: %w", err)
	}
	repl, err := filepath.Rel(base, out)
	if err != nil {
		return "", fmt.Errorf("workspace: %w", err)
	}
	return fmt.Sprintf("// Written by tools/fynepatch: tillpay with Fyne's idle loop.\ngo %s\n\nuse %s\n\nreplace %s %s => ./%s\n",
		goVersion, filepath.ToSlash(use), fyneModule, fyneVersion, filepath.ToSlash(repl)), nil
}

// apply makes one edit, which must find its anchor exactly once.
func apply(src string, e edit) (string, error) {
	if n := strings.Count(src, e.Anchor); n != 1 {
		return "", fmt.Errorf("%s: %q (%s): %w (found %d)", e.File, firstLine(e.Anchor), e.Why, ErrPlaceMissing, n)
	}
	return strings.Replace(src, e.Anchor, e.result(), 1), nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// result is what the edit leaves at its place.
func (e edit) result() string {
	if e.Replace != "" {
		return e.Before + e.Replace + e.After
	}
	return e.Before + e.Anchor + e.After
}
