package main

import "io"

func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", "[flags]", stdout, stderr)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	return notYet("train")
}

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

func runTransform(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("transform", "--pipeline train|val --seed S --in IMG --out X.npy [--png X.png]", stdout, stderr)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	return notYet("transform")
}

func runSummary(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("summary", "--data_path P [--json]", stdout, stderr)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	return notYet("summary")
}

func runSynth(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("synth", "--out P [--n 1200] [--size 512] [--seed 1]", stdout, stderr)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	return notYet("synth")
}

func runForward(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("forward", "--model M --num_classes N --weights W --input X.npy --out Y.npy [--train]", stdout, stderr)
	if err := parse(fs, args, stdout); err != nil {
		return err
	}
	return notYet("forward")
}
