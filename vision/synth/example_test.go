package synth_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/drgrade/drgrade/vision/synth"
)

// `drgrade synth` in code: a tiny DDR-layout data set (train/, val/, train.txt, val.txt) of
// 20 images of 32×32 pixels, one class in five, 20% of each class in val. The label files are
// what dataset.Load and the script's DR_Grading_Dataset read.
func ExampleGenerate() {
	dir, err := os.MkdirTemp("", "synth-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	res, err := synth.Generate(dir, synth.Options{N: 20, Size: 32, Seed: 1, Proportions: "uniform"}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("images written:", res.Total(), "train per grade:", res.Train, "val per grade:", res.Val)

	for _, split := range []string{"train", "val"} {
		f, err := os.Open(filepath.Join(dir, split+".txt"))
		if err != nil {
			fmt.Println(err)
			return
		}
		var perGrade [synth.NumGrades]int
		lines := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if lines == 0 {
				fmt.Printf("%s.txt starts with %q\n", split, sc.Text())
			}
			fields := strings.Fields(sc.Text()) // "name label"
			var g int
			if _, err := fmt.Sscan(fields[1], &g); err != nil {
				fmt.Println(err)
				return
			}
			perGrade[g]++
			lines++
		}
		f.Close()
		entries, err := os.ReadDir(filepath.Join(dir, split))
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("%s.txt: %d lines, per grade %v; %s/ holds %d files\n", split, lines, perGrade, split, len(entries))
	}
	// Output:
	// images written: 20 train per grade: [3 3 3 3 3] val per grade: [1 1 1 1 1]
	// train.txt starts with "synth_000000.jpg 2"
	// train.txt: 15 lines, per grade [3 3 3 3 3]; train/ holds 15 files
	// val.txt starts with "synth_000001.jpg 4"
	// val.txt: 5 lines, per grade [1 1 1 1 1]; val/ holds 5 files
}

// Render draws one image as a pure function of (grade, size, seed): the same seed shows the
// same eye, and only the lesions change with the grade.
func ExampleRender() {
	for g := 0; g < synth.NumGrades; g++ {
		img, err := synth.Render(g, 64, 7)
		if err != nil {
			fmt.Println(err)
			return
		}
		again, _ := synth.Render(g, 64, 7)
		fmt.Printf("grade %d %-13s %d×%d, reproducible: %v\n", g, synth.GradeNames[g], img.W, img.H,
			string(img.Pix) == string(again.Pix))
	}
	// Output:
	// grade 0 No DR         64×64, reproducible: true
	// grade 1 Mild          64×64, reproducible: true
	// grade 2 Moderate      64×64, reproducible: true
	// grade 3 Severe        64×64, reproducible: true
	// grade 4 Proliferative 64×64, reproducible: true
}
