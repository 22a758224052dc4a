# Lesson 1: MNIST with a dense network. Cells in order; markdown in English and Japanese, code shared.
CELLS = [
("md", {"en": """
# Lesson 1 · Part 1: handwritten digits with a dense network

The "Hello, World" of machine learning: teach a computer to read handwritten digits (MNIST: 70,000 pictures of
0 to 9, 28×28 pixels, grey). Every lesson follows the same four steps:

1. **Data**: what the pictures and their labels are, and how they are prepared.
2. **Model**: the network that turns a picture into a guess.
3. **Training**: showing it the pictures again and again, correcting it a little each time.
4. **Evaluation**: how often it is right on pictures it has never seen.

Run the cells from top to bottom (Shift+Enter). The same steps in a terminal are shown as `visionpath ...`
commands along the way. This lesson takes about a minute on a laptop.
""", "ja": """
# 第1回 · パート1：全結合ニューラルネットワークで手書き数字を読む

機械学習の「Hello, World」は、手書き数字の認識です。MNIST は 0〜9 の手書き数字 70,000 枚（28×28 ピクセル、
グレースケール）のデータセットです。このレッスンでは、どの回も次の 4 つのステップで進めます。

1. **データ**：画像とラベル（正解）を確認し、学習できる形に整える
2. **モデル**：画像を受け取って答えを出すネットワークを用意する
3. **学習**：画像を何度も見せて、少しずつ間違いを直していく
4. **評価**：一度も見せていない画像で、どのくらい正解できるかを測る

上のセルから順に実行してください（Shift+Enter）。同じ操作をターミナルで行う `visionpath ...` コマンドも、
その都度紹介します。ノートパソコンでも 1 分ほどで終わります。
"""}),
("parameters", """
QUICK = False  # True: one epoch instead of five (the test suite runs the lessons this way)
"""),
("code", """
import os

import torch
import torch.nn.functional as F
from IPython.display import Image, display
from PIL import Image as PILImage, ImageDraw

import visionpath
from visionpath.inside import show

DATA_DIR = os.environ.get("VISIONPATH_DATA_DIR")  # local copies of the data, if you have them; else downloaded once
EPOCHS = 1 if QUICK else 5
print("visionpath", visionpath.__version__, "· PyTorch", torch.__version__)
"""),
("md", {"en": """
## Step 1 · Data

`load_dataset` gives the training, validation and test pictures as tensors of whole numbers from 0 (black) to
255 (white). 10% of the 60,000 training pictures are held out as **validation** pictures: the model never
learns from them, so they tell us how well it does on new pictures while we train. The 10,000 **test**
pictures are kept for the very end.
""", "ja": """
## ステップ 1 · データ

`load_dataset` は、学習用・検証用・テスト用の画像を、0（黒）〜255（白）の整数が並んだテンソルとして返します。
学習用 60,000 枚のうち 10% は**検証データ**として取り分けます。モデルは検証データからは学習しないので、
学習の途中で「初めて見る画像にどれだけ通用するか」を確かめられます。**テストデータ** 10,000 枚は最後の評価まで
使いません。
"""}),
("code", """
mnist = visionpath.load_dataset("mnist", data_dir=DATA_DIR)
print("classes:", mnist.classes)
print("train:", tuple(mnist.train.images.shape), "validation:", tuple(mnist.validation.images.shape),
      "test:", tuple(mnist.test.images.shape))
picture = mnist.train.images[0]
print("one picture:", tuple(picture.shape), picture.dtype, "· values from", picture.min().item(), "to",
      picture.max().item(), "· its label:", mnist.classes[mnist.train.labels[0]])
"""),
("md", {"en": """
Look at some of them, with their labels. (In a terminal: `visionpath show mnist`.)
""", "ja": """
いくつか、ラベルと一緒に見てみましょう（ターミナルでは `visionpath show mnist`）。
"""}),
("code", """
show("mnist", output="mnist-batch.png", count=16, model="mlp", data_dir=DATA_DIR)
display(Image("mnist-batch.png"))
"""),
("md", {"en": """
**Scaling to 0–1.** A network learns best from small numbers, so each pixel is divided by 255 before the
model sees it (visionpath does this for you, and also centres the values on the dataset's mean). The
picture stays the same; only the numbers change:
""", "ja": """
**0〜1 への正規化。** ネットワークは小さな値のほうがうまく学習できるので、モデルに渡す前に各ピクセルを 255 で
割ります（visionpath が自動で行い、さらにデータセットの平均が 0 になるよう調整します）。画像の見た目は
変わらず、数値の範囲だけが変わります。
"""}),
("code", """
scaled = picture.float() / 255
print("before:", picture[0, 14, 10:18].tolist())
print("after: ", [round(v, 2) for v in scaled[0, 14, 10:18].tolist()])
"""),
("md", {"en": """
## Step 2 · Model

A **dense network** (a multilayer perceptron) first **flattens** the 28×28 picture into one row of 784
numbers, then a **dense layer** of 512 units, each connected to all 784 numbers, with ReLU (keep the positive
part), then a dense layer of 10 units: one score per digit. **Softmax** turns the 10 scores into
probabilities that add up to 1.

| the guide's Keras code | visionpath |
|---|---|
| `Sequential([Flatten(), Dense(512, activation="relu"), Dense(10, activation="softmax")])` | `model="mlp"` (`--model mlp`) |
| `model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])` | `optimizer="adam"` is the recipe's; cross-entropy and accuracy always |
| `model.fit(x, y, epochs=5, batch_size=128, validation_split=0.1)` | `visionpath.train("mnist", epochs=5, batch_size=128)` (validation held out for you) |
| `model.evaluate(x_test, y_test)` | `run.evaluate()` (`visionpath evaluate RUN`) |
| `model.predict(x)` | `run.predict(files)` (`visionpath predict RUN files`) |
""", "ja": """
## ステップ 2 · モデル

**全結合ネットワーク**（多層パーセプトロン）は、まず 28×28 の画像を 784 個の数値が 1 列に並んだ形に
**平坦化**（Flatten）します。次に 784 個すべてとつながった 512 ユニットの**全結合層**（Dense）に通して ReLU
（正の部分だけを残す活性化関数）をかけ、最後に 10 ユニットの全結合層で数字ごとのスコアを 1 つずつ出します。
**ソフトマックス**は、この 10 個のスコアを合計 1 の確率に変換します。

| ガイドの Keras のコード | visionpath |
|---|---|
| `Sequential([Flatten(), Dense(512, activation="relu"), Dense(10, activation="softmax")])` | `model="mlp"`（`--model mlp`） |
| `model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])` | `optimizer="adam"` はレシピの既定値。交差エントロピーと正解率は常に使用 |
| `model.fit(x, y, epochs=5, batch_size=128, validation_split=0.1)` | `visionpath.train("mnist", epochs=5, batch_size=128)`（検証データは自動で取り分け） |
| `model.evaluate(x_test, y_test)` | `run.evaluate()`（`visionpath evaluate RUN`） |
| `model.predict(x)` | `run.predict(files)`（`visionpath predict RUN files`） |
"""}),
("code", """
model = visionpath.models.create_model("mlp", 10, (1, 28, 28))
print(model)
print(f"{visionpath.models.count_parameters(model):,} weights to learn")
"""),
("md", {"en": """
**Labels, one-hot and cross-entropy.** A label is a class number (here 7). Keras's
`categorical_crossentropy` wants it **one-hot** (ten numbers, a 1 in place 7); `sparse_categorical_crossentropy`
takes the number itself, as PyTorch's `cross_entropy` does. Both compute the same **loss**: minus the log of the
probability the model gave the right class. Sure and right: near 0. Sure and wrong: large. Training lowers the
average loss.
""", "ja": """
**ラベル・one-hot・交差エントロピー。** ラベルはクラスの番号（ここでは 7）です。Keras の
`categorical_crossentropy` は **one-hot 形式**（10 個の数値のうち 7 番目だけが 1）を、
`sparse_categorical_crossentropy` は番号そのものを受け取ります（PyTorch の `cross_entropy` も番号のまま）。
どちらも同じ**損失**を計算します。正解クラスにモデルが与えた確率の対数に、マイナスをつけたものです。自信を
持って正解すれば 0 に近く、自信を持って間違えると大きくなります。学習とは、この平均損失を下げていくことです。
"""}),
("code", """
label = torch.tensor([7])
print("one-hot:", F.one_hot(label, 10).tolist())
scores = torch.tensor([[0.1, 0.0, 0.3, 0.2, -0.5, 0.1, 0.0, 2.5, 0.4, 0.6]])  # a model's 10 scores
probabilities = scores.softmax(dim=1)
print("probabilities:", [round(p, 3) for p in probabilities[0].tolist()], "sum", round(probabilities.sum().item(), 3))
print("loss = -log(p[7]) =", round(-probabilities[0, 7].log().item(), 4),
      "· PyTorch's cross_entropy:", round(F.cross_entropy(scores, label).item(), 4))
"""),
("md", {"en": """
## Step 3 · Training

Training shows the model the training pictures in **batches** of 128. For each batch it computes the loss and
changes every weight a little in the direction that lowers it (the **Adam** optimiser decides how much). One
batch is one **iteration**; one pass over all the training pictures is an **epoch**: 54,000 pictures ÷ 128 =
422 iterations (read it in the output below). After each epoch the validation pictures are scored.

In a terminal: `visionpath train mnist --model mlp --epochs 5 --batch-size 128`
""", "ja": """
## ステップ 3 · 学習

学習では、学習用の画像を 128 枚ずつの**バッチ**に分けてモデルに見せます。バッチごとに損失を計算し、損失が
下がる方向へすべての重みを少しずつ動かします（どれだけ動かすかは最適化手法 **Adam** が決めます）。
1 バッチの処理が 1 **イテレーション**、学習用の画像をひととおり見終えるのが 1 **エポック**です。
54,000 枚 ÷ 128 = 422 イテレーション（下の出力で確認できます）。各エポックの後に検証データで採点します。

ターミナルでは：`visionpath train mnist --model mlp --epochs 5 --batch-size 128`
"""}),
("code", """
run = visionpath.train("mnist", model="mlp", epochs=EPOCHS, batch_size=128, data_dir=DATA_DIR)
"""),
("md", {"en": """
The **learning curves**: loss and accuracy after each epoch, on the training pictures and on the validation
pictures. Both losses fall together: the model learns what generalises. (When validation loss starts rising
while training loss keeps falling, the model is memorising: that is **overfitting**, the subject of Lesson 2.)
""", "ja": """
**学習曲線**は、エポックごとの損失と正解率を、学習データと検証データのそれぞれについて描いたものです。
2 本の損失がそろって下がっていれば、モデルは新しい画像にも通用することを学んでいます（学習データの損失は
下がり続けるのに検証データの損失が上がり始めたら、モデルは丸暗記を始めています。これが**過学習**で、
第 2 回のテーマです）。
"""}),
("code", """
display(Image(str(run.path / "curves.png")))
"""),
("md", {"en": """
## Step 4 · Evaluation

Now, once, the test pictures: the accuracy here is the honest number. The **confusion matrix** has the true
digit on each row and the predicted digit on each column: everything off the diagonal is a mistake, and it
shows which digits are confused (4 and 9, 3 and 5, ...).

In a terminal: `visionpath evaluate runs/mnist-mlp-1`
""", "ja": """
## ステップ 4 · 評価

最後に一度だけ、テストデータで評価します。ここでの正解率が、信頼できる本当の数字です。**混同行列**は、
行が正解の数字、列がモデルの予測です。対角線以外はすべて間違いで、どの数字どうしを取り違えやすいか
（4 と 9、3 と 5 など）がわかります。

ターミナルでは：`visionpath evaluate runs/mnist-mlp-1`
"""}),
("code", """
evaluation = run.evaluate()
print(f"test accuracy: {evaluation.accuracy:.2%}")
display(Image(str(run.path / "confusion_matrix.png")))
"""),
("md", {"en": """
## Your own digit

Draw a digit (here with a few lines of code; you can also draw one in any paint program, white on black, and
save it as a PNG) and ask the model. The probabilities of its top classes are its confidence.

In a terminal: `visionpath predict runs/mnist-mlp-1 my_digit.png`
""", "ja": """
## 自分で書いた数字

数字を 1 つ描いて（ここではコードで描きます。お絵かきソフトで黒地に白で描いて PNG で保存してもかまいません）、
モデルに聞いてみましょう。上位のクラスの確率が、モデルの自信の度合いです。

ターミナルでは：`visionpath predict runs/mnist-mlp-1 my_digit.png`
"""}),
("code", """
canvas = PILImage.new("L", (280, 280), 0)  # drawn large, then shrunk to 28×28 as MNIST's digits were
pen = ImageDraw.Draw(canvas)
pen.line([(70, 60), (210, 60), (120, 240)], fill=255, width=28)  # a 7
canvas.resize((28, 28), PILImage.Resampling.LANCZOS).save("my_digit.png")
display(canvas.resize((112, 112)))
prediction = run.predict(["my_digit.png"], top_k=3)[0]
"""),
("md", {"en": """
## What you learned

- Pixels are scaled to 0–1; a dense network flattens the picture into one row.
- Softmax turns scores into probabilities; cross-entropy is the loss; Adam changes the weights to lower it.
- An epoch is one pass over the training pictures: pictures ÷ batch size = iterations.
- Validation pictures watch training; test pictures give the honest score at the end.

Next, **Lesson 2**: colour photos (CIFAR-10), where a dense network is not enough, and overfitting.
""", "ja": """
## まとめ

- ピクセル値は 0〜1 に正規化する。全結合ネットワークは画像を 1 列に平坦化して受け取る。
- ソフトマックスはスコアを確率に変える。損失は交差エントロピーで、Adam がそれを下げるように重みを更新する。
- 1 エポックは学習データを 1 周すること。画像の枚数 ÷ バッチサイズ = イテレーション数。
- 検証データで学習の様子を見守り、テストデータで最後に正直なスコアを出す。

次の**第 2 回**では、全結合ネットワークでは歯が立たないカラー写真（CIFAR-10）と、過学習を扱います。
"""}),
]
