package main

import "io"

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("eval", "--model M --weights W.pth --data_path P [flags]", stdout, stderr)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	return notYet("eval")
}

func runPredict(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("predict", "--model M --weights W.pth IMG|DIR...", stdout, stderr)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	return notYet("predict")
}
