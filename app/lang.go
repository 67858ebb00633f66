package app

import (
	"embed"
	"os"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"
)

//go:embed translations
var translations embed.FS

// Languages the window speaks, as the config's language values; "" is the
// system's locale.
var languages = []string{"", "en", "zh"}

// T translates an English text (also the key) into the window's language.
// Texts with %-verbs are fmt formats; their translations keep the verbs.
func T(s string) string { return lang.L(s) }

// setupLanguage loads the translations and picks the language: code
// ("en", "zh") when set, else the system locale. Fyne picks it from the
// environment (LANGUAGE, LC_ALL, LC_MESSAGES, LANG), so a chosen language
// is put there for this process.
func setupLanguage(code string) {
	if code != "" {
		os.Setenv("LANGUAGE", code)
		if v := os.Getenv("LC_ALL"); v == "C" || v == "POSIX" {
			os.Unsetenv("LC_ALL") // it would hide LANGUAGE
		}
	} else if v := os.Getenv("LANGUAGE"); v == "en" || v == "zh" {
		os.Unsetenv("LANGUAGE")
	}
	if err := lang.AddTranslationsFS(translations, "translations"); err != nil {
		fyne.LogError("loading the window's translations", err)
	}
}

// languageName is how a language is offered in the settings.
func languageName(code string) string {
	switch code {
	case "en":
		return "English"
	case "zh":
		return "中文"
	}
	return T("System")
}

func languageCode(name string) string {
	for _, c := range languages {
		if languageName(c) == name {
			return c
		}
	}
	return strings.ToLower(name)
}
