// Command langstart starts Fyne's lang package, which reads the user's
// locales when it loads its translations, and prints the language it chose.
package main

import (
	"fmt"

	"fyne.io/fyne/v2/lang"
)

func main() { fmt.Println(lang.SystemLocale().LanguageString()) }
