# Lesson 3: transfer learning. Cells in order; markdown in English and Japanese, code shared.
CELLS = [
("md", {"en": """
# Lesson 3 · Part 3: transfer learning

In Lesson 2 a CNN learned every one of its filters from a few thousand photos, and overfitting set in fast. A
network trained on **ImageNet** (1.3 million photos of 1,000 kinds of things) has already learned filters for
edges, colours, textures, fur, wheels, eyes: features that are useful for almost any photo. **Transfer
learning** keeps that network (the **backbone**), throws away its 1,000-class output layer, and trains a new small
**head** for our classes. Then, optionally, it **fine-tunes**: it lets the backbone's weights move too, gently,
with a small learning rate.

This lesson does both on just 100 CIFAR-10 photos per class and compares the result, in accuracy and in time,
with Lesson 2's CNN trained from scratch on the same photos. The backbone is **EfficientNet-Lite0**, a small
network made for phones, whose ImageNet weights come with visionpath, so nothing is downloaded. About five
minutes on a laptop.
""", "ja": """
# 第3回 · パート3：転移学習

第 2 回の CNN は、数千枚の写真からフィルタをすべて学習し、すぐに過学習が始まりました。一方、**ImageNet**
（1,000 種類の物を写した 130 万枚の写真）で学習したネットワークは、エッジ、色、模様、毛並み、車輪、目といった、
ほとんどどんな写真にも役立つ特徴をすでに身につけています。**転移学習**では、このネットワーク（**バックボーン**）を
そのまま使い、1,000 クラス分の出力層だけを捨てて、自分のクラス用の小さな**ヘッド**を新しく学習します。その後、
必要に応じて**ファインチューニング**を行い、小さな学習率でバックボーンの重みも少しだけ動かします。

この回では、CIFAR-10 の写真をクラスあたりわずか 100 枚だけ使って両方を試し、同じ写真でゼロから学習した第 2 回の
CNN と、正解率と時間を比べます。バックボーンは、スマートフォン向けに設計された小さなネットワーク
**EfficientNet-Lite0** です。ImageNet の重みは visionpath に同梱されているので、ダウンロードは不要です。ノートパソコンで
5 分ほどかかります。
"""}),
("parameters", """
QUICK = False  # True: 10 photos a class, small pictures and one epoch (the test suite runs the lessons this way)
"""),
("code", """
import json
import os

import torch
from IPython.display import Image, display

import visionpath
from visionpath.inside import explain

DATA_DIR = os.environ.get("VISIONPATH_DATA_DIR")  # local copies of the data, if you have them; else downloaded once
PER_CLASS = 10 if QUICK else 100  # training photos per class
SIDE = 64 if QUICK else 128       # the backbone sees the 32×32 photos enlarged to SIDE×SIDE
print("visionpath", visionpath.__version__, "· PyTorch", torch.__version__)
"""),
("md", {"en": """
## Step 1 · Data

The same kind of small copy as in Lesson 2, with fewer photos: 100 a class for training, 20 for validation, 40
for testing. Few photos is where transfer learning shines, and where most people's own projects start.
""", "ja": """
## ステップ 1 · データ

第 2 回と同じような小さなコピーを、さらに少ない枚数で作ります。学習用はクラスあたり 100 枚、検証用 20 枚、
テスト用 40 枚です。写真が少ないときこそ転移学習が力を発揮しますし、たいていの人の自分のプロジェクトも、
少ない写真から始まります。
"""}),
("code", """
cifar = visionpath.load_dataset("cifar10", data_dir=DATA_DIR)
few = visionpath.sample_folder(cifar, "cifar10-few", PER_CLASS)  # and 1/5 as many to validate, 2/5 to test
print(", ".join(cifar.classes), "·", sum(1 for _ in (few / "train").rglob("*.png")), "training photos")
"""),
("md", {"en": """
## Step 2 · Model: a pretrained backbone and a new head

| the guide's Keras code | visionpath |
|---|---|
| `base = EfficientNetB0(include_top=False, weights="imagenet", input_shape=(128, 128, 3))` | `model="efficientnet_lite0", pretrained=True, image_size=128` |
| `base.trainable = False` | stage 1: the backbone is frozen for `epochs` |
| `Sequential([base, GlobalAveragePooling2D(), Dense(10, activation="softmax")])` | the new head, made for the folder's classes |
| `base.trainable = True; model.compile(optimizer=Adam(1e-5))` | stage 2: `fine_tune_epochs=3, fine_tune_lr=1e-4`; the top blocks that train are chosen for the folder (`unfreeze=8`: all of Lite0's eight block groups) |
""", "ja": """
## ステップ 2 · モデル：事前学習済みのバックボーンと新しいヘッド

| ガイドの Keras のコード | visionpath |
|---|---|
| `base = EfficientNetB0(include_top=False, weights="imagenet", input_shape=(128, 128, 3))` | `model="efficientnet_lite0", pretrained=True, image_size=128` |
| `base.trainable = False` | ステージ 1：`epochs` の間、バックボーンを凍結 |
| `Sequential([base, GlobalAveragePooling2D(), Dense(10, activation="softmax")])` | フォルダのクラスに合わせて作る新しいヘッド |
| `base.trainable = True; model.compile(optimizer=Adam(1e-5))` | ステージ 2：`fine_tune_epochs=3, fine_tune_lr=1e-4`。学習する上位のブロックはフォルダに合わせて選ばれます（`unfreeze=8` で Lite0 の 8 つのブロックグループすべて） |
"""}),
("code", """
lite0 = visionpath.models.create_model("efficientnet_lite0", 10, (3, SIDE, SIDE))
head = sum(p.numel() for p in lite0.head.parameters())
print(f"EfficientNet-Lite0: {visionpath.models.count_parameters(lite0):,} weights, of which the new head: {head:,}")
"""),
("md", {"en": """
## Step 3 · Training in two stages

**Stage 1, feature extraction.** The backbone is frozen: its output for each photo never changes, so visionpath
computes it once (the "features") and trains only the head on them, a fraction of a second per epoch.
**Stage 2, fine-tuning.** The backbone's top blocks train too, at a tenth of the head's learning rate, so that
the pretrained features are adjusted to our photos rather than overwritten. How many blocks, visionpath chooses
for a folder of photos from its photos a class and from how far stage 1's head falls short, and says why in the
run's first lines and after stage 1 (the settings we leave out are chosen as `visionpath train FOLDER` would);
each stage also ends early once validation stops improving, and the run keeps its best epoch.

In a terminal: `visionpath train cifar10-few --model efficientnet_lite0 --pretrained --image-size 128
--epochs 10 --fine-tune-epochs 3 --fine-tune-lr 1e-4 --batch-size 32`
""", "ja": """
## ステップ 3 · 2 段階の学習

**ステージ 1、特徴抽出。** バックボーンは凍結されているので、写真ごとの出力は変わりません。そこで visionpath は
その出力（「特徴量」）を 1 回だけ計算し、ヘッドだけをその上で学習します。1 エポックは 1 秒もかかりません。
**ステージ 2、ファインチューニング。** バックボーンの上位のブロックも、ヘッドの 10 分の 1 の学習率で学習します。
事前学習で得た特徴量を上書きするのではなく、自分の写真に合わせて少しだけ調整するためです。何ブロックを学習するかは、
写真のフォルダでは、クラスあたりの写真の枚数と、ステージ 1 のヘッドがどれだけ届かないかから visionpath が選び、
その理由を実行の最初とステージ 1 の後に表示します（指定しなかった設定は `visionpath train フォルダ` と同じように
選ばれます）。どちらのステージも、検証の正解率が伸びなくなると早めに終わり、最良のエポックが残ります。

ターミナルでは：`visionpath train cifar10-few --model efficientnet_lite0 --pretrained --image-size 128
--epochs 10 --fine-tune-epochs 3 --fine-tune-lr 1e-4 --batch-size 32`
"""}),
("code", """
transfer = visionpath.train(few, model="efficientnet_lite0", pretrained=True, image_size=SIDE, epochs=10,
                            fine_tune_epochs=1 if QUICK else 3, fine_tune_lr=1e-4, batch_size=32, name="transfer")
display(Image(str(transfer.path / "curves.png")))
"""),
("md", {"en": """
The green dashed line marks where fine-tuning starts. Stage 1 alone, the head on frozen features, already gets far
above what Lesson 2's CNN reached with three times as many photos; fine-tuning can add more, and when it does not
help, the run keeps stage 1's best epoch.

## Step 4 · Evaluation: side by side with a CNN from scratch

The same photos, Lesson 2's CNN with augmentation, as many epochs as the transfer run took in all:
""", "ja": """
緑の破線がファインチューニングの始まりです。凍結した特徴量でヘッドを学習するステージ 1 だけで、第 2 回の CNN が
3 倍の写真を使って達した正解率を大きく上回ります。ファインチューニングでさらに伸びることもあり、伸びない場合は、
実行がステージ 1 の最良のエポックを残します。

## ステップ 4 · 評価：ゼロから学習した CNN との比較

同じ写真で、データ拡張をした第 2 回の CNN を、転移学習の実行と同じエポック数だけ学習します。
"""}),
("code", """
scratch = visionpath.train(few, model="cnn", epochs=len(transfer.history), batch_size=32, name="scratch")

def summary(run):
    test = json.loads((run.path / "test_metrics.json").read_text())["accuracy"]
    return test, run.history[-1]["time"]

print(f"{'':<32} {'test accuracy':>13} {'training time':>13}")
for label, run in (("CNN from scratch (Lesson 2)", scratch), ("EfficientNet-Lite0, transferred", transfer)):
    accuracy, seconds = summary(run)
    print(f"{label:<32} {accuracy:>13.1%} {seconds:>12.0f}s")
"""),
("md", {"en": """
Transfer learning wins by a wide margin in accuracy; it costs more time per epoch, because the backbone is a much
bigger network working on bigger pictures, and most of that time goes to fine-tuning. On a GPU, or with
`--fine-tune-epochs 0`, it is fast as well.

Where did the transferred model look? Grad-CAM (in a terminal: `visionpath explain runs/transfer-1 photo.png`)
colours the parts of each photo that pushed hardest towards the class it chose. Often that is the object; when it
is the background, the model may be judging by the surroundings (sky for airplanes, water for ships), which
works on these photos and fails on others:
""", "ja": """
正解率では転移学習が大差で勝ちます。一方、1 エポックあたりの時間は長くなります。バックボーンははるかに大きな
ネットワークで、しかも大きな画像を扱うからで、その時間の大半はファインチューニングにかかっています。GPU を使うか、
`--fine-tune-epochs 0` にすれば、転移学習も速くなります。

転移学習したモデルは、写真のどこを見ていたのでしょうか。Grad-CAM（ターミナルでは
`visionpath explain runs/transfer-1 photo.png`）は、選んだクラスへの判断を最も強く後押しした部分を色で示します。
たいていは写っている物そのものですが、背景が色付いている場合は、モデルが周りの様子（飛行機なら空、船なら水）で
判断しているのかもしれません。この写真ではうまくいっても、ほかの写真では外れる判断の仕方です。
"""}),
("code", """
photos = sorted((few / "test").rglob("*.png"))[:: max(1, len(list((few / "test").rglob("*.png"))) // 4)][:4]
explain(transfer.path, photos, output="explained.png")
display(Image("explained.png"))
"""),
("md", {"en": """
## What you learned

- A backbone pretrained on ImageNet already knows general features of photos; transfer learning reuses it with a
  new head for your classes.
- Stage 1 trains the head on the frozen backbone's features (fast); stage 2 fine-tunes everything with a small
  learning rate so the pretrained knowledge is adjusted, not overwritten.
- With few photos, transfer learning beats a CNN from scratch by far; it costs more time per epoch.

Next, **Lesson 4**: your own photos, from collecting them to a report and predictions.
""", "ja": """
## まとめ

- ImageNet で事前学習したバックボーンは、写真に共通する特徴をすでに知っている。転移学習では、それを自分の
  クラス用の新しいヘッドと組み合わせて再利用する。
- ステージ 1 では凍結したバックボーンの特徴量でヘッドを学習し（速い）、ステージ 2 では小さな学習率で全体を
  ファインチューニングして、事前学習の知識を上書きせずに調整する。
- 写真が少ないとき、転移学習はゼロから学習した CNN を大きく上回る。ただし 1 エポックあたりの時間は長い。

次の**第 4 回**では、自分の写真を集めるところから、レポートと予測までを行います。
"""}),
]
