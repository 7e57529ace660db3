"""`regbench score`: images from a folder or an .npz, scored against a dataset; bad input is exit 2."""
import numpy as np
import pytest
from PIL import Image

from benchmark.cli import main
from benchmark.data import load_images


def digits_uint8(n=100):
    return load_images("digits", split="test", size=8)[:n].numpy()  # (N, 1, 8, 8)


def test_npz_in_both_layouts_and_a_folder_give_the_same_scores(tmp_path, capsys):
    x = digits_uint8()
    np.savez(tmp_path / "nchw.npz", images=x)
    np.savez(tmp_path / "nhwc.npz", x.transpose(0, 2, 3, 1))
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, im in enumerate(x):
        Image.fromarray(im[0]).save(folder / f"{i:03d}.png")
    outputs = []
    for path in ("nchw.npz", "nhwc.npz", "pngs"):
        assert main(["score", str(tmp_path / path), "--dataset", "digits"]) == 0
        out = capsys.readouterr().out
        assert "digits-cnn" in out and "FID" in out and "KID" in out
        outputs.append(out.split("\n", 1)[1])
    assert outputs[0] == outputs[1] == outputs[2]


BAD = {
    "empty folder": (lambda p: p.mkdir(), "no .png"),
    "float npz": (lambda p: np.savez(p, images=np.zeros((4, 8, 8, 1), np.float32)), "uint8"),
    "3-d npz": (lambda p: np.savez(p, images=np.zeros((4, 8, 8), np.uint8)), "4-d"),
    "no channel axis": (lambda p: np.savez(p, images=np.zeros((4, 8, 8, 5), np.uint8)), "channel"),
    "mixed sizes": (lambda p: (p.mkdir(), Image.new("L", (8, 8)).save(p / "a.png"),
                               Image.new("L", (9, 9)).save(p / "b.png")), "different sizes"),
    "a cut png": (lambda p: (p.mkdir(), Image.new("L", (8, 8)).save(p / "a.png"),
                             Image.effect_noise((64, 64), 50).save(p / "b.png"),
                             (p / "b.png").write_bytes((p / "b.png").read_bytes()[:120])), "b.png: not a readable image"),
    "not an image": (lambda p: (p.mkdir(), (p / "a.png").write_text("hello")), "a.png: not a readable image"),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_images_exit_2_with_one_message(tmp_path, capsys, case):
    make, words = BAD[case]
    path = tmp_path / ("x.npz" if "npz" in case or "axis" in case else "imgs")
    make(path)
    assert main(["score", str(path), "--dataset", "digits"]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1


def test_a_datasets_own_split_scores_at_the_floor_and_a_corrupted_copy_above_it(tmp_path, capsys):
    """`regbench score digits:test`: the held-out split against the train split, the floor every run is read
    against; the same images with noise score a higher FID (the scorer's monotonicity, from the CLI)."""
    import json

    from benchmark.scorers.validate import corrupt

    assert main(["score", "digits:test", "--dataset", "digits", "--json"]) == 0
    clean = json.loads(capsys.readouterr().out)
    x = load_images("digits", split="test", size=8)
    np.savez(tmp_path / "noisy.npz", images=corrupt(x, "gaussian noise", 0.1).numpy())
    assert main(["score", str(tmp_path / "noisy.npz"), "--dataset", "digits", "--json"]) == 0
    noisy = json.loads(capsys.readouterr().out)
    assert clean["n"] == noisy["n"] == len(x)
    assert clean["fid"] < 15 < 50 < noisy["fid"]  # validated: 6.3 clean, ~106 at this noise
    assert clean["protocol"]["feature_extractor_weights_sha256"] == noisy["protocol"]["feature_extractor_weights_sha256"]
    assert main(["score", "digits:validation", "--dataset", "digits"]) == 2
    assert "digits has splits" in capsys.readouterr().err
    assert main(["score", "digits:test", "--dataset", "digits", "--max-images", "100", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 100
