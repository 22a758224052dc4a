# Lesson 4: your own photos, the capstone. Cells in order; markdown in English and Japanese, code shared.
CELLS = [
("md", {"en": """
# Lesson 4 · Part 4: a classifier for your own photos

Everything so far used datasets other people collected. Now the photos are yours: cats and dogs, flower species,
the birds at your window, good and faulty parts from a workshop. This lesson goes the whole way in one notebook:
collecting photos, laying them out, checking them, splitting them, training with visionpath's defaults, reading
the report and predicting new photos.

To try it with **your own photos**, put them in a folder with one subfolder per class and set `PHOTOS` in the next
cell to that folder. Left as it is, the lesson uses an example: 1,802 photos of cats and dogs, exactly as someone
saved them from the web (duplicates included). About five minutes on a laptop.

**Without code: `visionpath studio`.** The same path runs in a browser, on your machine:
`pip install 'visionpath[studio]'`, then `visionpath studio` opens http://127.0.0.1:8000. Make a class for each
kind of photo, drop photos on it (or hold the camera button), read the data check, press Train, read the report
of a test split the studio kept aside, try the model on the camera, and download it as ONNX. Its folders are an
ordinary class-folder dataset (`studio/data/`) and run folders (`studio/runs/`), and every step shows the command
and the Python call this lesson uses, so you can move between the two at any time.
""", "ja": """
# 第4回 · パート4：自分の写真の分類器を作る

ここまでは、ほかの人が集めたデータセットを使ってきました。いよいよ自分の写真の番です。犬と猫、花の種類、窓辺に
来る鳥、工房の良品と不良品。この回では、写真を集めるところから、フォルダに並べ、確認し、分割し、visionpath の
既定の設定で学習し、レポートを読み、新しい写真を予測するところまで、すべてを 1 つのノートブックで行います。

**自分の写真**で試すには、クラスごとのサブフォルダに写真を分けて入れたフォルダを用意し、次のセルの `PHOTOS` に
そのフォルダを指定してください。そのままにしておくと、例として犬と猫の写真 1,802 枚を使います。誰かがウェブから
保存したままの状態（重複もあります）です。ノートパソコンで 5 分ほどかかります。

**コードを書かずに：`visionpath studio`。** 同じ道のりをブラウザで、自分のマシンの上でたどれます。
`pip install 'visionpath[studio]'` のあと `visionpath studio` で http://127.0.0.1:8000 が開きます。写真の種類ごとに
クラスを作り、写真をドロップし（カメラのボタンを押し続けても撮れます）、データのチェックを読み、「学習する」を押し、
スタジオが取り分けたテスト用の写真でのレポートを読み、カメラでモデルを試し、ONNX としてダウンロードできます。
フォルダは普通のクラスフォルダのデータセット（`studio/data/`）と実行フォルダ（`studio/runs/`）で、どの手順にも
このレッスンで使うコマンドと Python の呼び出しが示されるので、いつでも両者を行き来できます。
"""}),
("parameters", """
QUICK = False  # True: 12 photos a class and a one-minute budget (the test suite runs the lessons this way)
PHOTOS = None  # your folder of class subfolders, e.g. "my_photos" (my_photos/cat/*.jpg, my_photos/dog/*.jpg, ...)
"""),
("md", {"en": """
## Step 1 · Collecting photos

- **How many**: start with 100 or more a class; transfer learning (Lesson 3) works from a few dozen, and more
  photos help more than anything else. Keep the classes roughly balanced.
- **Variety**: the photos must look like the ones the classifier will meet: different backgrounds, lighting,
  angles, distances, cameras and phones. If every dog is photographed on grass and every cat indoors, the model
  learns "grass", not "dog".
- **Licensing and privacy**: use your own photos, or photos whose licence allows it (Creative Commons, a
  dataset's terms). Do not scrape sites that forbid it, and ask before using photos of people.
- **Layout**: one folder per class. visionpath also accepts an existing split (`train/`, `validation/` or `val/`,
  `test/`, each with the class folders), or a CSV of file names and labels (`labels=`) when folders are not enough.
""", "ja": """
## ステップ 1 · 写真を集める

- **枚数**：まずはクラスあたり 100 枚以上を目安にしましょう。転移学習（第 3 回）なら数十枚からでも学習できますが、
  写真を増やすことが何よりも効きます。クラスごとの枚数はなるべくそろえます。
- **バリエーション**：分類器が実際に出会う写真と同じような写真を集めます。背景、明るさ、角度、距離、カメラや
  スマートフォンを変えましょう。犬はいつも芝生の上、猫はいつも室内で撮っていると、モデルは「犬」ではなく
  「芝生」を覚えてしまいます。
- **ライセンスとプライバシー**：自分で撮った写真か、利用が許されている写真（クリエイティブ・コモンズ、
  データセットの利用規約など）を使います。禁止されているサイトから勝手に集めないこと、人物が写った写真は
  本人の許可を得ることも大切です。
- **フォルダの構成**：クラスごとに 1 つのフォルダを作ります。visionpath は分割済みの構成（`train/`、
  `validation/` または `val/`、`test/` のそれぞれにクラスのフォルダ）や、フォルダでは表せないときのための
  ファイル名とラベルの CSV（`labels=`）も受け付けます。
"""}),
("code", """
import os
import shutil
import zipfile
from pathlib import Path

from IPython.display import Image, display

import visionpath

DATA_DIR = os.environ.get("VISIONPATH_DATA_DIR")  # where cats-vs-dogs.zip is, for the example
if PHOTOS is None:  # the example: cats-vs-dogs.zip, unpacked (in quick mode, 12 photos of each class)
    with zipfile.ZipFile(Path(DATA_DIR or ".") / "cats-vs-dogs.zip") as archive:
        names = [n for n in archive.namelist() if n.endswith(".jpg")]
        if QUICK:
            names = [n for c in ("cats", "dogs") for n in sorted(n for n in names if f"/{c}/" in n)[:12]]
        archive.extractall(".", names)
    PHOTOS = "cats-vs-dogs"
for folder in sorted(p for p in Path(PHOTOS).iterdir() if p.is_dir()):
    print(f"{folder.name:<12} {sum(1 for f in folder.rglob('*') if f.is_file()):>5} photos")
"""),
("md", {"en": """
## Step 2 · Checking the photos

Before training, look for what spoils a classifier quietly: unreadable files, tiny pictures, classes out of
balance, and **duplicates**, above all the same photo in two classes (a wrong label) or, after splitting, in both
training and test (a leak that inflates the score). In a terminal: `visionpath data check cats-vs-dogs`
""", "ja": """
## ステップ 2 · 写真を確認する

学習の前に、分類器をこっそり損なうものを探します。読めないファイル、小さすぎる画像、偏ったクラスの枚数、
そして**重複**です。特に、同じ写真が 2 つのクラスにある（ラベルの間違い）場合や、分割した後に学習用とテスト用の
両方に入っている（スコアを水増しする「リーク」）場合が問題です。ターミナルでは：
`visionpath data check cats-vs-dogs`
"""}),
("code", """
check = visionpath.check_data(PHOTOS, output="check")
display(Image("check.png"))
"""),
("md", {"en": """
The example has photos saved twice (`cat.NNNN.jpg` and `cat.NNNN(1).jpg`). Within one class they only count
twice; the danger is a split that puts one copy in training and the other in test. `split_folder` keeps exact
duplicates together in one split, stratified by class and seeded, so the split is the same every time (a folder
of yours that is split already, into `train/` and `validation/` or `test/`, is used as it is).
In a terminal: `visionpath data split cats-vs-dogs pets --validation 0.15 --test 0.15`
""", "ja": """
例の写真には、2 回保存されたもの（`cat.NNNN.jpg` と `cat.NNNN(1).jpg`）があります。同じクラスの中なら 2 回
数えられるだけですが、危ないのは、分割で片方が学習用に、もう片方がテスト用に入ってしまうことです。
`split_folder` は完全な重複を同じ分割にまとめ、クラスごとの比率を保ち（層化）、シードを固定するので、何度
実行しても同じ分割になります（すでに `train/` と `validation/` や `test/` に分割済みの自分のフォルダは、その
まま使います）。ターミナルでは：`visionpath data split cats-vs-dogs pets --validation 0.15 --test 0.15`
"""}),
("code", """
SPLITS = ("train", "validation", "val", "valid", "test")
if any((Path(PHOTOS) / split).is_dir() for split in SPLITS):
    SPLIT = PHOTOS  # split already: used as it is
else:
    SPLIT = "pets"
    shutil.rmtree(SPLIT, ignore_errors=True)
    print(visionpath.split_folder(PHOTOS, SPLIT, validation=0.15, test=0.15))
"""),
("md", {"en": """
## Step 3 · Training with the defaults

Give visionpath the folder and nothing else. For a folder of photos it chooses transfer learning with
EfficientNet-Lite0, measures how fast this computer is, and picks the resolution, batch size and the length of
each stage to fit a time **budget** (5 minutes unless you say otherwise); every choice is printed with its reason.

| the guide's Keras code | visionpath |
|---|---|
| `image_dataset_from_directory("pets/train", image_size=(224, 224))` | `visionpath.train("pets")` reads `train/`, `validation/`, `test/` |
| `ImageDataGenerator(rotation_range=20, horizontal_flip=True, ...)` | chosen for photos; `augment=`, `rotation=`, `flip=` to change |
| `model.fit(..., callbacks=[EarlyStopping(...)])` | early stopping is on for photos; the best epoch is kept |
| `model.evaluate(test_ds)` | the test split is scored once, at the end; `run.report()` |
| `model.predict(img_array)` | `run.predict(["new.jpg"])` (`visionpath predict RUN new.jpg`) |

In a terminal: `visionpath train pets`
""", "ja": """
## ステップ 3 · 既定の設定で学習する

visionpath にはフォルダだけを渡します。写真のフォルダには EfficientNet-Lite0 による転移学習を選び、この
コンピュータの速さを測ったうえで、解像度、バッチサイズ、各ステージの長さを時間の**予算**（指定しなければ 5 分）に
収まるように決めます。どの選択も、理由とともに表示されます。

| ガイドの Keras のコード | visionpath |
|---|---|
| `image_dataset_from_directory("pets/train", image_size=(224, 224))` | `visionpath.train("pets")` が `train/`、`validation/`、`test/` を読み込む |
| `ImageDataGenerator(rotation_range=20, horizontal_flip=True, ...)` | 写真向けに自動で選択。変えるには `augment=`、`rotation=`、`flip=` |
| `model.fit(..., callbacks=[EarlyStopping(...)])` | 写真では早期終了が有効。最良のエポックを残す |
| `model.evaluate(test_ds)` | テストデータは最後に 1 回だけ採点。`run.report()` |
| `model.predict(img_array)` | `run.predict(["new.jpg"])`（`visionpath predict RUN new.jpg`） |

ターミナルでは：`visionpath train pets`
"""}),
("code", """
run = visionpath.train(SPLIT, budget=1 if QUICK else None)
"""),
("md", {"en": """
## Step 4 · The report

`run.report()` writes `report.html` in the run folder: the command and settings, the data, the learning curves
and their diagnosis, the confusion matrix, precision and recall for each class, the pairs of classes most often
confused, and the misclassified photos with Grad-CAM beside each (where the model looked). Open it in a
browser; here are two of its pictures. In a terminal: `visionpath report runs/pets-efficientnet_lite0-1`
""", "ja": """
## ステップ 4 · レポート

`run.report()` は実行フォルダに `report.html` を書き出します。コマンドと設定、データ、学習曲線とその診断、
混同行列、クラスごとの適合率と再現率、取り違えの多いクラスの組み合わせ、そして間違えた写真と、その横に
Grad-CAM（モデルが見ていた場所）が並びます。ブラウザで開いてください。ここではその中から 2 つの図を表示します。
ターミナルでは：`visionpath report runs/pets-efficientnet_lite0-1`
"""}),
("code", """
report = run.report()
print("open in a browser:", report.resolve())
display(Image(str(run.path / "curves.png")))
display(Image(str(run.path / "confusion_matrix.png")))
"""),
("md", {"en": """
## Step 5 · Predicting new photos

Put new photos in a folder and ask. Each answer comes with the probabilities of the top classes; below
`min_confidence` it is marked uncertain, worth a person's look. Here, two test photos and an ant from another
dataset. A classifier knows only its own classes: the ant still gets one of them, and not necessarily with low
confidence. The probability says which of *its* classes fits the photo best, not whether the photo belongs to any
of them; when photos of other things will come, add an "other" class with such photos.
In a terminal: `visionpath predict runs/pets-efficientnet_lite0-1 new_photos/`
""", "ja": """
## ステップ 5 · 新しい写真を予測する

新しい写真をフォルダに入れて、モデルに聞いてみましょう。答えには上位のクラスの確率が付き、`min_confidence` を
下回ると「自信なし」の印が付きます。人の目で確かめる価値がある答えです。ここではテスト用の写真 2 枚と、別の
データセットのアリの写真 1 枚を試します。分類器は自分のクラスしか知りません。アリの写真にもいずれかのクラスを
答えてしまい、しかも確率が低いとは限りません。確率が表すのは、*自分の*クラスのうちどれがいちばん当てはまるか
であって、写真がどれかのクラスに属するかどうかではないのです。ほかの物の写真も来るなら、そうした写真を集めた
「その他」のクラスを加えましょう。ターミナルでは：`visionpath predict runs/pets-efficientnet_lite0-1 new_photos/`
"""}),
("code", """
new = Path("new_photos")
new.mkdir(exist_ok=True)
held_out = next(Path(SPLIT) / split for split in reversed(SPLITS) if (Path(SPLIT) / split).is_dir())
for folder in sorted(p for p in held_out.iterdir() if p.is_dir()):
    first = sorted(f for f in folder.iterdir() if not f.name.startswith("."))[0]
    shutil.copy(first, new / f"{folder.name}-{first.name}")
if DATA_DIR and (Path(DATA_DIR) / "hymenoptera.zip").is_file():
    with zipfile.ZipFile(Path(DATA_DIR) / "hymenoptera.zip") as archive:
        (new / "an-ant.jpg").write_bytes(archive.read("val/ants/desert_ant.jpg"))
predictions = run.predict(sorted(new.iterdir()), top_k=2, min_confidence=0.8)
"""),
("md", {"en": """
## When a folder is not enough: labelling tools

Folders hold one label per photo. For other tasks you need other labels, and a tool to draw them:
**Label Studio** (a web app for classification, boxes, outlines and text; exports CSV and COCO) or **LabelImg**
(boxes for object detection, in the YOLO and Pascal VOC formats; archived, but still common in tutorials). For
classification, a CSV of `filename,label[,split]` rows is enough: `visionpath.train("photos", labels="labels.csv")`.

## What you learned

- Collect varied, balanced, properly licensed photos; lay them out one folder per class.
- Check them (`data check`) and split them without leaks (`data split`) before training.
- `visionpath train FOLDER` chooses transfer learning and settings that fit a time budget, and says why.
- Read the report: the diagnosis, the confusion matrix, the mistakes and where the model looked.
- Predictions come with probabilities; uncertain ones deserve a person's look, and a photo of something else still
  gets one of the classes.

Next, **Lesson 5**: where to go from here.
""", "ja": """
## フォルダでは足りないとき：アノテーションツール

フォルダで付けられるラベルは、写真 1 枚に 1 つです。ほかのタスクには別の種類のラベルと、それを描くための
ツールが必要です。**Label Studio**（分類、矩形、輪郭、テキストに対応した Web アプリ。CSV や COCO 形式で
書き出せる）や **LabelImg**（物体検出用の矩形を YOLO や Pascal VOC の形式で付ける。開発は終了していますが、
チュートリアルではまだよく使われています）がその例です。分類なら、`filename,label[,split]` の行からなる CSV で
十分です：`visionpath.train("photos", labels="labels.csv")`。

## まとめ

- バリエーションがあり、枚数がそろい、ライセンスの問題がない写真を集め、クラスごとのフォルダに分ける。
- 学習の前に確認し（`data check`）、リークのないように分割する（`data split`）。
- `visionpath train フォルダ` は転移学習と、時間の予算に収まる設定を選び、その理由を示す。
- レポートを読む：診断、混同行列、間違えた写真、モデルが見ていた場所。
- 予測には確率が付く。自信のない答えは人の目で確かめる。ほかの物の写真にも、いずれかのクラスが答えられる。

次の**第 5 回**では、ここから先に進む道を紹介します。
"""}),
]
