# Lesson 2: CIFAR-10 with a CNN, and overfitting. Cells in order; markdown in English and Japanese, code shared.
CELLS = [
("md", {"en": """
# Lesson 2 · Part 2: colour photos with a convolutional network

MNIST's digits are centred, grey and alike. **CIFAR-10** is harder: 60,000 colour photos of 32×32 pixels in ten
classes (airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck), taken from every angle, against
every background, with a cat sometimes filling the picture and sometimes a corner of it. A dense network that
reads the picture as one row of numbers gets only about half of them right.

This lesson builds a **convolutional neural network (CNN)**, looks at what its filters do, and then meets the
main enemy of every model trained on few pictures: **overfitting**. We fight it with augmentation, dropout, L1/L2
regularisation and early stopping, one at a time, and measure what each does. About five minutes on a laptop.
""", "ja": """
# 第2回 · パート2：畳み込みニューラルネットワークでカラー写真を分類する

MNIST の数字は中央にそろったグレーの画像で、どれもよく似ています。**CIFAR-10** はもっと難しいデータセットです。
32×32 ピクセルのカラー写真 60,000 枚が 10 クラス（飛行機、自動車、鳥、猫、鹿、犬、カエル、馬、船、トラック）に
分かれていて、向きも背景もばらばら、猫が画面いっぱいに写っていることもあれば、隅に小さく写っていることも
あります。画像を 1 列の数値として読む全結合ネットワークでは、正解できるのは半分ほどです。

この回では**畳み込みニューラルネットワーク（CNN）**を作り、そのフィルタが何をしているのかを見たうえで、少ない
画像で学習するモデルの最大の敵である**過学習**に向き合います。データ拡張、ドロップアウト、L1/L2 正則化、早期終了を
1 つずつ試し、それぞれの効果を測ります。ノートパソコンで 5 分ほどかかります。
"""}),
("parameters", """
QUICK = False  # True: 30 photos a class and two epochs (the test suite runs the lessons this way)
"""),
("code", """
import json
import os

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from IPython.display import Image, display
from PIL import Image as PILImage

import visionpath
from visionpath.inside import filters, show
from visionpath.report import diagnose

DATA_DIR = os.environ.get("VISIONPATH_DATA_DIR")  # local copies of the data, if you have them; else downloaded once
PER_CLASS = 30 if QUICK else 300  # training photos per class in the small copy below
EPOCHS = 2 if QUICK else 12
print("visionpath", visionpath.__version__, "· PyTorch", torch.__version__)
"""),
("md", {"en": """
## Step 1 · Data

The whole of CIFAR-10 (decoded once, then read from visionpath's picture cache). In a terminal:
`visionpath show cifar10 --model cnn` draws the same grid.
""", "ja": """
## ステップ 1 · データ

CIFAR-10 全体を読み込みます（最初の 1 回だけデコードし、以後は visionpath の画像キャッシュから読みます）。
ターミナルでは `visionpath show cifar10 --model cnn` で同じ一覧を描けます。
"""}),
("code", """
cifar = visionpath.load_dataset("cifar10", data_dir=DATA_DIR)
print("classes:", ", ".join(cifar.classes))
print("train:", tuple(cifar.train.images.shape), "· test:", tuple(cifar.test.images.shape), cifar.train.images.dtype)
show("cifar10", output="cifar10-batch.png", count=16, model="cnn", data_dir=DATA_DIR)
display(Image("cifar10-batch.png"))
"""),
("md", {"en": """
The lower grid is the same pictures through the **augmentation** the CNN's recipe uses (random crops after
padding, and mirror images): every epoch, the network sees each photo slightly differently. We come back to it
below.

To watch overfitting happen in minutes rather than hours, we copy a small part of CIFAR-10 into a folder, laid
out as your own photos will be in Lesson 4: `train/<class>/`, `validation/<class>/`, `test/<class>/`.
""", "ja": """
下の段は、同じ画像に CNN のレシピが使う**データ拡張**（周囲に余白を足してからのランダムな切り抜きと、左右反転）を
かけたものです。ネットワークはエポックごとに、それぞれの写真を少しずつ違った形で見ることになります。これについては
後で詳しく扱います。

過学習が起きる様子を数時間ではなく数分で見られるように、CIFAR-10 の一部を小さなフォルダにコピーします。構成は、
第 4 回で使う自分の写真と同じ `train/<クラス>/`、`validation/<クラス>/`、`test/<クラス>/` です。
"""}),
("code", """
small = visionpath.sample_folder(cifar, "cifar10-small", PER_CLASS)  # and 1/5 as many to validate, 2/5 to test
for split in ("train", "validation", "test"):
    print(split, sum(1 for _ in (small / split).rglob("*.png")), "photos")
"""),
("md", {"en": """
## Step 2 · Model: convolution, pooling and a dense head

A **convolution** slides a small filter (here 3×3 pixels) over the picture and writes, at every place, how much
the patch under it looks like the filter: the result is a **feature map**. The same few weights are used
everywhere, so a filter that finds an edge finds it anywhere in the picture. **Pooling** then keeps the strongest
answer of each 2×2 square, halving the map: later layers see a wider area and combine edges into textures, parts
and objects. A small **dense head** at the end turns the last feature maps into ten class scores.

Here is one hand-made filter, a vertical-edge detector, on one photo (left to right: the photo, its feature
map, the map after 2×2 pooling):
""", "ja": """
## ステップ 2 · モデル：畳み込み、プーリング、全結合のヘッド

**畳み込み**は、小さなフィルタ（ここでは 3×3 ピクセル）を画像の上で少しずつずらしながら、各位置でその下の
部分がフィルタにどれだけ似ているかを書き出します。その結果が**特徴マップ**です。同じ少数の重みをどこでも使うので、
エッジを見つけるフィルタは画像のどこにあるエッジでも見つけます。続く**プーリング**は 2×2 の区画ごとに最も強い
反応だけを残してマップを半分にします。そのため後ろの層ほど広い範囲を見て、エッジを模様に、模様を部品に、
部品を物体へと組み合わせていきます。最後の小さな**全結合のヘッド**が、特徴マップを 10 クラスのスコアに変えます。

手作りのフィルタ（縦のエッジを見つけるもの）を、1 枚の写真にかけてみましょう（左から、写真、その特徴マップ、
2×2 のプーリング後のマップ）。
"""}),
("code", """
photo = cifar.train.images[7].float() / 255            # 3×32×32, values 0-1
grey = photo.mean(0, keepdim=True)[None]               # 1×1×32×32
edge = torch.tensor([[[[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]]]])  # a vertical-edge filter
feature_map = F.conv2d(grey, edge, padding=1)
pooled = F.max_pool2d(feature_map, 2)
print("photo", tuple(grey.shape[-2:]), "→ feature map", tuple(feature_map.shape[-2:]), "→ after pooling",
      tuple(pooled.shape[-2:]))
figure, axes = plt.subplots(1, 3, figsize=(9, 3.2))
for ax, shown in zip(axes, (photo.permute(1, 2, 0), feature_map[0, 0], pooled[0, 0])):
    ax.imshow(shown, cmap="gray" if shown.dim() == 2 else None)
    ax.set_title(" × ".join(map(str, shown.shape[:2])))
    ax.axis("off")
plt.show()
"""),
("md", {"en": """
visionpath's `cnn` stacks such layers: convolution blocks (convolution, batch normalisation, ReLU, pooling), then
a dense head. It has fewer weights than Lesson 1's dense network, yet it suits photos far better, because it
knows that neighbouring pixels belong together.

| the guide's Keras code | visionpath |
|---|---|
| `Conv2D(32, (3, 3), activation="relu", padding="same")`, `MaxPooling2D((2, 2))` | the blocks of `model="cnn"` (`--width`, `--depth`) |
| `Flatten()`, `Dense(512, activation="relu")`, `Dense(10, activation="softmax")` | the head of `cnn` |
| `Dropout(0.5)` | `dropout=0.5` (`--dropout 0.5`) |
| `kernel_regularizer=l2(1e-4)` / `l1(1e-5)` | `weight_decay=...` / `l1=...` |
| `ImageDataGenerator(width_shift_range=0.1, horizontal_flip=True)` | `augment="standard"`, or `shift=0.1, flip=True` |
| `EarlyStopping(patience=3, restore_best_weights=True)` | `early_stopping=3` (the best epoch is always kept) |
""", "ja": """
visionpath の `cnn` は、このような層を積み重ねたものです。畳み込みブロック（畳み込み、バッチ正規化、ReLU、
プーリング）の後に全結合のヘッドが続きます。第 1 回の全結合ネットワークより重みは少ないのに、隣り合うピクセルは
関係が深いという写真の性質を取り込んでいるので、写真にはずっと向いています。

| ガイドの Keras のコード | visionpath |
|---|---|
| `Conv2D(32, (3, 3), activation="relu", padding="same")`、`MaxPooling2D((2, 2))` | `model="cnn"` のブロック（`--width`、`--depth`） |
| `Flatten()`、`Dense(512, activation="relu")`、`Dense(10, activation="softmax")` | `cnn` のヘッド |
| `Dropout(0.5)` | `dropout=0.5`（`--dropout 0.5`） |
| `kernel_regularizer=l2(1e-4)` / `l1(1e-5)` | `weight_decay=...` / `l1=...` |
| `ImageDataGenerator(width_shift_range=0.1, horizontal_flip=True)` | `augment="standard"`、または `shift=0.1, flip=True` |
| `EarlyStopping(patience=3, restore_best_weights=True)` | `early_stopping=3`（最良のエポックは常に残ります） |
"""}),
("code", """
cnn = visionpath.models.create_model("cnn", 10, (3, 32, 32))
print(cnn)
print(f"cnn: {visionpath.models.count_parameters(cnn):,} weights;",
      f"a dense network of Lesson 1's shape on these photos: "
      f"{visionpath.models.count_parameters(visionpath.models.create_model('mlp', 10, (3, 32, 32))):,}")
"""),
("md", {"en": """
## Step 3 · Training, and overfitting

First with nothing against overfitting: no augmentation, no dropout, no weight decay. In a terminal:
`visionpath train cifar10-small --model cnn --augment none --dropout 0 --weight-decay 0 --epochs 12 --batch-size 64`
""", "ja": """
## ステップ 3 · 学習と過学習

まずは過学習への対策を何もせずに学習します。データ拡張なし、ドロップアウトなし、重み減衰なしです。ターミナルでは：
`visionpath train cifar10-small --model cnn --augment none --dropout 0 --weight-decay 0 --epochs 12 --batch-size 64`
"""}),
("code", """
plain = dict(model="cnn", epochs=EPOCHS, batch_size=64, augment="none", dropout=0.0, weight_decay=0.0)
baseline = visionpath.train(small, name="baseline", **plain)
display(Image(str(baseline.path / "curves.png")))
"""),
("md", {"en": """
Read the curves. Training accuracy keeps climbing towards 100% while validation accuracy stops far below it, and
validation loss, after falling for a few epochs, **rises** again (the red band): the network is memorising the
3,000 training photos, backgrounds and all, instead of learning what a cat looks like. That is **overfitting**, and
visionpath's diagnosis under the curves says so and suggests remedies.

**Bias and variance, in plain words.** A model too simple for the task is wrong in the same way on every data set
(high *bias*: it underfits; training accuracy itself stays low). A model flexible enough to fit anything fits the
noise of its own training set too, and its answers would change a lot with other training photos (high
*variance*: it overfits). More data lowers variance; regularisation trades a little bias for much less variance.
""", "ja": """
曲線を読んでみましょう。学習正解率は 100% に向かって上がり続けるのに、検証正解率はずっと下で止まり、検証損失は
数エポック下がった後に再び**上がって**います（赤い帯の部分）。ネットワークは猫がどう見えるかを学ぶ代わりに、
学習用の 3,000 枚を背景ごと丸暗記しているのです。これが**過学習**で、曲線の下にある visionpath の診断もそう述べ、
対策を提案しています。

**バイアスとバリアンスを平たく言うと。** 課題に対して単純すぎるモデルは、どのデータで学習しても同じように
間違えます（*バイアス*が高い状態：学習不足で、学習正解率そのものが低いまま）。何にでも合わせられるほど柔軟な
モデルは、学習データに含まれる雑音にまで合わせてしまい、別の写真で学習すれば答えが大きく変わります（*バリアンス*が
高い状態：過学習）。データを増やすとバリアンスが下がり、正則化はバイアスを少しだけ上げる代わりにバリアンスを
大きく下げます。
"""}),
("code", """
print(diagnose(baseline.history, baseline.config).text)
"""),
("md", {"en": """
## Fighting overfitting, one remedy at a time

Each run below changes one thing from the baseline:

- **Augmentation** (`augment="standard"`): random crops and mirror images make new variations of every photo each
  epoch, so there is less to memorise.
- **Dropout** (`dropout=0.3`): while training, switch off a random 30% of the head's units at every step, so no
  unit can rely on another; at test time all are used.
- **L2, weight decay** (`weight_decay=0.5`): shrink every weight a little at each step; large weights, which fit
  noise, cost something.
- **L1** (`l1=1e-4`): add the weights' absolute sizes to the loss, pushing unhelpful weights to exactly zero.
- **Early stopping** (`early_stopping=3`): stop when validation accuracy has not improved for 3 epochs and keep
  the best epoch's weights, instead of the last.

The test photos are scored once per run, at the end; the choices are made on validation.
""", "ja": """
## 過学習への対策を 1 つずつ

以下の実行は、それぞれベースラインから 1 か所だけを変えています。

- **データ拡張**（`augment="standard"`）：ランダムな切り抜きと左右反転で、エポックごとに写真の新しいバリエーションを
  作ります。丸暗記できるものが減ります。
- **ドロップアウト**（`dropout=0.3`）：学習中はステップごとに、ヘッドのユニットのうちランダムな 30% を休ませます。
  どのユニットもほかのユニットに頼れなくなります。テスト時にはすべてのユニットを使います。
- **L2 正則化、重み減衰**（`weight_decay=0.5`）：ステップごとにすべての重みを少しずつ小さくします。雑音に
  合わせるための大きな重みにはコストがかかるようになります。
- **L1 正則化**（`l1=1e-4`）：重みの絶対値の和を損失に加え、役に立たない重みをちょうど 0 に押しやります。
- **早期終了**（`early_stopping=3`）：検証正解率が 3 エポック改善しなければ学習を止め、最後ではなく最良の
  エポックの重みを残します。

テストデータは各実行の最後に 1 回だけ採点します。選択はすべて検証データで行います。
"""}),
("code", """
remedies = {"augmentation": dict(augment="standard"), "dropout": dict(dropout=0.3),
            "L2 (weight decay)": dict(weight_decay=0.5), "L1": dict(l1=1e-4),
            "early stopping": dict(early_stopping=3)}
runs = {"baseline": baseline}
for label, change in remedies.items():
    runs[label] = visionpath.train(small, name=label.split()[0].lower(), **{**plain, **change})

def scores(run):
    rows = run.history
    best = max(rows, key=lambda r: r["val_accuracy"])
    test = json.loads((run.path / "test_metrics.json").read_text())["accuracy"]
    return (len(rows), rows[-1]["train_accuracy"], best["val_accuracy"], rows[-1]["train_accuracy"] -
            rows[-1]["val_accuracy"], test, rows[-1]["time"])

print(f"{'run':<18} {'epochs':>6} {'train acc':>9} {'best val':>8} {'gap':>6} {'test acc':>8} {'time':>6}")
for label, run in runs.items():
    epochs, train_acc, val_acc, gap, test, seconds = scores(run)
    print(f"{label:<18} {epochs:>6} {train_acc:>9.1%} {val_acc:>8.1%} {gap * 100:>5.1f}p {test:>8.1%} {seconds:>5.0f}s")
"""),
("md", {"en": """
Read the table: **gap** is the last epoch's training accuracy minus its validation accuracy, in points. The
baseline's gap is the overfitting. Here, augmentation closes it almost entirely and gives the best test score: it
is the only remedy that adds information (new views of each photo), where the others only restrain the network.
Dropout shrinks the gap too. Weight decay at this strength hardly changes this network, while L1 at `1e-4`
restrains it so much that it **underfits**: a small gap, but validation accuracy below the baseline's. The
strength of a regulariser is a setting of its own, to choose on validation. Early stopping does not make the
network better; it keeps the best epoch and saves the epochs after it. With more epochs, or all 50,000 photos,
each effect changes: measure on your own data, as here.

Now the first layer of the augmented run: its 16 filters, each 3×3 pixels in colour, and what each makes of a
photo (in a terminal: `visionpath filters runs/augmentation-1 photo.png`). After twelve epochs on 3,000 photos
the filters are still rough, but the feature maps already show them answering to different things: the edges
of the object, its bright or dark parts, the background.
""", "ja": """
表の見方：**gap** は最後のエポックの学習正解率から検証正解率を引いた差（ポイント）です。ベースラインの差が
過学習の大きさです。ここではデータ拡張がその差をほぼなくし、テストの成績もいちばんよくなりました。ほかの対策が
ネットワークを抑え込むだけなのに対し、データ拡張だけは写真の新しい見え方という情報を加えるからです。
ドロップアウトも差を縮めています。この強さの重み減衰は、このネットワークをほとんど変えません。一方、`1e-4` の
L1 正則化はネットワークを抑え込みすぎて**学習不足**になっています。差は小さいものの、検証正解率がベースラインより
低いのです。正則化の強さはそれ自体が 1 つの設定で、検証データで選ぶものです。早期終了はネットワークをよくする
わけではありませんが、最良のエポックを残し、その後のエポックを節約します。エポック数を増やしたり 50,000 枚
すべてを使ったりすると、それぞれの効果は変わります。ここでしたように、自分のデータで測ってください。

最後に、データ拡張をした実行の最初の層を見てみましょう。3×3 ピクセルのカラーのフィルタ 16 個と、それぞれが
写真から取り出したものです（ターミナルでは `visionpath filters runs/augmentation-1 photo.png`）。3,000 枚で
12 エポック学習しただけなのでフィルタはまだ粗いものの、特徴マップを見ると、物体の輪郭、明るい部分や暗い部分、
背景など、フィルタごとに違うものに反応していることがわかります。
"""}),
("code", """
PILImage.fromarray(cifar.test.images[3].permute(1, 2, 0).numpy()).save("photo.png")
filters(runs["augmentation"].path, "photo.png", output="filters.png")
display(Image("filters.png"))
"""),
("md", {"en": """
## What you learned

- A CNN slides small filters over the picture (convolution), keeps the strongest answers (pooling), and ends
  with a dense head; it needs fewer weights than a dense network and suits photos far better.
- Overfitting: training accuracy climbs while validation stalls and validation loss rises; the curves show it.
- Augmentation, dropout, L1/L2 and early stopping each fight it; measure each on validation, score the test set
  once.

Next, **Lesson 3**: instead of learning every filter from a few thousand photos, start from a network that has
already seen a million.
""", "ja": """
## まとめ

- CNN は小さなフィルタを画像の上でずらし（畳み込み）、強い反応だけを残し（プーリング）、最後に全結合のヘッドで
  答えを出す。全結合ネットワークより少ない重みで、写真にはずっと向いている。
- 過学習：学習正解率は上がるのに検証正解率は頭打ちになり、検証損失が上がり始める。学習曲線に表れる。
- データ拡張、ドロップアウト、L1/L2 正則化、早期終了はどれも過学習への対策になる。効果は検証データで測り、
  テストデータでの採点は最後に 1 回だけ。

次の**第 3 回**では、数千枚の写真からフィルタをすべて学習する代わりに、すでに 100 万枚以上の画像を見てきた
ネットワークから始めます。
"""}),
]
