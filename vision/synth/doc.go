// Package synth draws synthetic colour-fundus photographs with diabetic-retinopathy lesions and
// writes them as a DDR-layout data set (P/train/, P/val/, P/train.txt, P/val.txt), so drgrade can
// be trained, tested and demonstrated end to end without the real (licensed, 13 GB) DDR images.
//
// An image is a dark surround with an orange-red retina (vignetted towards the rim, mottled), a
// darker macula, a bright yellowish optic disc and a tree of arteries and veins growing out of it.
// Lesions are added by grade, mirroring the International Clinical DR scale that DDR uses:
//
//	0 No DR          nothing
//	1 Mild           a few microaneurysms / dot haemorrhages
//	2 Moderate       more dots, hard exudates, a few blot haemorrhages
//	3 Severe         many blot and flame haemorrhages, cotton-wool spots, exudates
//	4 Proliferative  all of that plus tangles of new vessels near the disc (and elsewhere),
//	                 often a large pre-retinal haemorrhage
//
// Anatomy (geometry, colour, brightness, vessels), lesions and pixel noise come from three
// separate random streams of one per-image seed, so Render(g, size, s) for g = 0..4 shows the
// same eye with different disease, and global brightness/colour never depend on the grade.
//
// Determinism and threading: every image is a pure function of (grade, size, seed); the seed of
// image i in a data set is derived from (Options.Seed, i), so Generate renders on all cores and
// still writes byte-identical files for the same options. Render and Grid are safe for
// concurrent use; Generate calls its progress callback from one goroutine at a time.
package synth
