package transforms_test

import (
	"fmt"

	"github.com/drgrade/drgrade/vision/imageio"
	"github.com/drgrade/drgrade/vision/transforms"
)

// The script's data_transform, written out step by step as in the Python:
//
//	"train": transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
//	                             transforms.RandomRotation(30), transforms.ColorJitter(0.2, 0.2, 0.2, 0.2),
//	                             transforms.ToTensor(), transforms.Normalize(mean, std)]),
//	"val":   transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224),
//	                             transforms.ToTensor(), transforms.Normalize(mean, std)])
//
// A Pipeline is the image steps followed by ToTensor + Normalize. TrainPipeline and
// ValPipeline build the same two from a Config.
func ExampleCompose() {
	colorJitter, err := transforms.NewColorJitter(0.2, 0.2, 0.2, 0.2)
	if err != nil {
		fmt.Println(err)
		return
	}
	train, err := transforms.NewPipeline(transforms.Compose{
		transforms.NewRandomResizedCrop(224),
		transforms.RandomHorizontalFlip{P: 0.5},
		transforms.RandomRotation{Degrees: [2]float64{-30, 30}},
		colorJitter,
	}, transforms.ImageNetMean, transforms.ImageNetStd)
	if err != nil {
		fmt.Println(err)
		return
	}
	val, err := transforms.NewPipeline(transforms.Compose{
		transforms.ResizeStep{Size: []int{256}},
		transforms.CenterCropStep{Size: []int{224}},
	}, transforms.ImageNetMean, transforms.ImageNetStd)
	if err != nil {
		fmt.Println(err)
		return
	}

	img := imageio.NewRGB(400, 300) // a black 400×300 photograph
	// Random steps draw from a Rand; the loader gives each sample its own, seeded from
	// (seed, epoch, index).
	rng := transforms.NewRand(1, 0)
	s, err := train.Run(img, rng, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("train: %d×%d×%d\n", s.C, s.H, s.W)
	s, err = val.Run(img, nil, nil) // no random step: no Rand needed
	if err != nil {
		fmt.Println(err)
		return
	}
	// Normalize((0 − 0.485) / 0.229) for black in the red channel.
	fmt.Printf("val:   %d×%d×%d, first value %.4f\n", s.C, s.H, s.W, s.CHW[0])
	// Output:
	// train: 3×224×224
	// val:   3×224×224, first value -2.1179
}

// A custom transform needs no fork: any func(*imageio.RGB) (*imageio.RGB, error) is a
// transforms.Func (a random one a RandFunc), and Append puts it after the pipeline's image
// steps, before ToTensor + Normalize.
func ExamplePipeline_Append() {
	cfg := transforms.DefaultConfig()
	val, err := transforms.ValPipeline(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	// A green-channel-only view, often used for fundus photographs.
	greenOnly := transforms.Func(func(img *imageio.RGB) (*imageio.RGB, error) {
		out := img.Clone()
		for i := 0; i < len(out.Pix); i += 3 {
			g := out.Pix[i+1]
			out.Pix[i], out.Pix[i+2] = g, g
		}
		return out, nil
	})
	custom := val.Append(greenOnly)

	img := imageio.NewRGB(300, 300)
	for y := 0; y < 300; y++ {
		for x := 0; x < 300; x++ {
			img.Set(x, y, 200, 100, 50)
		}
	}
	rgb, err := custom.RGB(img, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(val.Steps), "→", len(custom.Steps), "steps")
	fmt.Println(rgb.At(0, 0))
	// Output:
	// 1 → 2 steps
	// 100 100 100
}
