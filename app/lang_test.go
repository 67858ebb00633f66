package app

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// Every text the window translates has a Chinese translation with the
// same fmt verbs.
func TestChineseCoversEveryText(t *testing.T) {
	var zh map[string]string
	data, err := translations.ReadFile("translations/zh-Hans.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &zh); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("*.go")
	lit := regexp.MustCompile(`T\("((?:[^"\\]|\\.)*)"\)`)
	verb := regexp.MustCompile(`%(?:\[\d\])?[-+# 0-9.]*[a-zA-Z]`)
	seen := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range lit.FindAllStringSubmatch(string(src), -1) {
			key := m[1]
			seen++
			tr, ok := zh[key]
			if !ok {
				t.Errorf("%s: no Chinese for %q", f, key)
				continue
			}
			want := verb.FindAllString(key, -1)
			got := verb.FindAllString(regexp.MustCompile(`\[\d\]`).ReplaceAllString(tr, ""), -1)
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(want, got) {
				t.Errorf("%q → %q: verbs %v, want %v", key, tr, got, want)
			}
		}
	}
	for _, f := range historyFilters {
		if _, ok := zh[f.name]; !ok {
			t.Errorf("no Chinese for the filter %q", f.name)
		}
	}
	if seen < 50 {
		t.Fatalf("found only %d texts: is the pattern right?", seen)
	}
}

func TestLanguageSwitch(t *testing.T) {
	t.Setenv("LANGUAGE", "")
	t.Setenv("LANG", "en_US.UTF-8")
	setupLanguage("zh")
	if got := T("Sale"); got != "收款" {
		t.Errorf("zh: T(Sale) = %q", got)
	}
	setupLanguage("en")
	if got := T("Sale"); got != "Sale" {
		t.Errorf("en: T(Sale) = %q", got)
	}
	if languageCode(languageName("zh")) != "zh" || languageCode(languageName("")) != "" {
		t.Error("language names do not round-trip")
	}
}
