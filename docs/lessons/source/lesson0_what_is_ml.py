# Lesson 0: what machine learning is. Cells in order; markdown in English and Japanese, code shared.
CELLS = [
("md", {"en": """
# Lesson 0 · What machine learning is

Before the first network, the map of the field and the one workflow every lesson follows. About five minutes.

## AI, machine learning, deep learning

- **Artificial intelligence (AI)**: any technique that makes a computer do something we would call
  intelligent, including rules a person writes by hand.
- **Machine learning (ML)**, a part of AI: instead of writing the rules, we give the computer **examples** and
  it finds the rules itself.
- **Deep learning**, a part of ML: learning with **neural networks** of many layers, each turning what the layer
  below found into something more abstract (pixels → edges → shapes → "a cat"). Every model in these lessons is
  one.

## Three ways to learn

- **Supervised learning**: every example comes with the right answer (a photo and its label "cat"). The model
  learns to give the answer for new examples. *Image classification, the subject of these lessons, is
  supervised.*
- **Unsupervised learning**: examples without answers; the model finds structure by itself (groups of similar
  customers, photos that look alike).
- **Reinforcement learning**: an agent acts, gets rewards or penalties, and learns which actions pay (games,
  robots).
""", "ja": """
# 第0回 · 機械学習とは

最初のネットワークを作る前に、分野の全体像と、このあと毎回たどる作業の流れを押さえておきましょう。5 分ほどです。

## AI・機械学習・ディープラーニング

- **人工知能（AI）**：人間なら「知的だ」と感じることをコンピュータにさせる技術の総称です。人が手で書いた
  ルールによるものも含みます。
- **機械学習（ML）**は AI の一部です。ルールを人が書く代わりに、コンピュータに**例（データ）**を与え、
  ルールをデータから見つけさせます。
- **ディープラーニング（深層学習）**は機械学習の一部です。何層も重なった**ニューラルネットワーク**で学習し、
  各層が下の層の見つけたものをより抽象的な特徴に変えていきます（ピクセル → エッジ → 形 → 「猫」）。
  このレッスンで扱うモデルはすべてこれです。

## 3 種類の学習

- **教師あり学習**：すべての例に正解がついています（写真とラベル「猫」）。モデルは新しい例にも正解を出せるように
  学びます。*このレッスンのテーマである画像分類は、教師あり学習です。*
- **教師なし学習**：正解のない例から、モデルが自分で構造を見つけます（似た顧客のグループ分け、似た写真の整理など）。
- **強化学習**：エージェントが行動し、報酬や罰を受け取りながら、得になる行動を学びます（ゲーム、ロボットなど）。
"""}),
("parameters", """
QUICK = False  # True: fewer pictures (the test suite runs the lessons this way)
"""),
("code", """
import os

import torch
from matplotlib.figure import Figure
from matplotlib.patches import Ellipse
from IPython.display import Image, display

import visionpath

DATA_DIR = os.environ.get("VISIONPATH_DATA_DIR")  # local copies of the data, if you have them; else downloaded once

figure = Figure(figsize=(6, 3.6))
axes = figure.add_subplot()
for (width, height, colour, name, y) in ((5.6, 3.3, "#dbe7fb", "AI", 1.45), (4.0, 2.3, "#b9d0f6", "machine learning", 0.95),
                                         (2.4, 1.2, "#2f6fdb", "deep learning", 0.0)):
    axes.add_patch(Ellipse((0, 0), width, height, color=colour))
    axes.text(0, y, name, ha="center", va="center", fontsize=12, color="white" if name == "deep learning" else "black")
axes.set_xlim(-3, 3); axes.set_ylim(-1.8, 1.8); axes.axis("off")
figure.savefig("ai-ml-dl.png", dpi=100)
display(Image("ai-ml-dl.png"))
"""),
("md", {"en": """
## What computer vision does

- **Classification**: one label for the whole picture ("a bee"). *These lessons.*
- **Detection**: a box around each object, with its label ("a bee here, a flower there").
- **Segmentation**: a label for every pixel (the exact outline of the bee).

## Learning from examples, in ten lines

The smallest possible "learner": to classify a new handwritten digit, find the training picture that looks most
like it (the fewest differing pixels) and answer with its label. No rules about digits were written, only
examples given, and it is right most of the time. (It is slow and not very clever: real models learn what
matters about a digit instead of comparing every pixel. That is what the next lessons build.)
""", "ja": """
## コンピュータビジョンでできること

- **画像分類**：画像全体に 1 つのラベルをつける（「ハチ」）。*このレッスンのテーマです。*
- **物体検出**：物体ごとに枠とラベルをつける（「ここにハチ、そこに花」）。
- **セグメンテーション**：ピクセルごとにラベルをつける（ハチの輪郭を正確に切り出す）。

## 例から学ぶ、を 10 行で

いちばん小さな「学習器」を作ってみます。新しい手書き数字を分類するには、いちばんよく似た学習用画像
（ピクセルの差がいちばん小さいもの）を探し、そのラベルを答えにします。数字についてのルールは一行も書かず、
例を与えただけですが、ほとんど正解します（ただし遅く、賢くもありません。本物のモデルは全ピクセルを比べる
代わりに、数字にとって大事な特徴を学びます。それを次の回から作っていきます）。
"""}),
("code", """
mnist = visionpath.load_dataset("mnist", data_dir=DATA_DIR)
examples = 2000 if QUICK else 20000
known = mnist.train.images[:examples].flatten(1).float()      # the examples, with their answers
answers = mnist.train.labels[:examples]
new = mnist.test.images[:1000].flatten(1).float()              # pictures it has never seen
nearest = torch.cdist(new, known).argmin(dim=1)                # the most similar example of each
guessed = answers[nearest]
accuracy = (guessed == mnist.test.labels[:1000]).float().mean().item()
print(f"nearest of {examples:,} examples: right on {accuracy:.1%} of 1,000 new digits")
"""),
("md", {"en": """
## The workflow of every lesson

1. **Data**: collect pictures with their labels; split them into **training** (to learn from), **validation**
   (to watch the learning and choose settings) and **test** (touched once, at the end, for the honest score).
2. **Model**: choose a network (a dense network, a CNN, a pretrained backbone).
3. **Training**: show it the training pictures in batches, many times (epochs), lowering the loss.
4. **Evaluation**: measure it on the test pictures; look at its mistakes.

| the guide's Keras code | visionpath |
|---|---|
| `keras.datasets.mnist.load_data()` | `visionpath.load_dataset("mnist")` |
| `model = keras.Sequential([...])` | `model="mlp"`, `"cnn"`, `"resnet9"`, `"efficientnet_lite0"`, `"timm:..."` |
| `model.fit(...)` | `visionpath.train(...)` (`visionpath train`) |
| `model.evaluate(...)` | `run.evaluate()` (`visionpath evaluate`) |

Next, **Lesson 1**: your first network, on these same digits.
""", "ja": """
## 毎回の作業の流れ

1. **データ**：画像とラベルを集め、**学習データ**（学習に使う）、**検証データ**（学習の様子を見守り、設定を選ぶ）、
   **テストデータ**（最後に一度だけ使い、正直なスコアを出す）に分けます。
2. **モデル**：ネットワークを選びます（全結合ネットワーク、CNN、学習済みのバックボーン）。
3. **学習**：学習データをバッチに分けて何度も（エポック）見せ、損失を下げていきます。
4. **評価**：テストデータで性能を測り、間違えた画像を確認します。

| ガイドの Keras のコード | visionpath |
|---|---|
| `keras.datasets.mnist.load_data()` | `visionpath.load_dataset("mnist")` |
| `model = keras.Sequential([...])` | `model="mlp"`、`"cnn"`、`"resnet9"`、`"efficientnet_lite0"`、`"timm:..."` |
| `model.fit(...)` | `visionpath.train(...)`（`visionpath train`） |
| `model.evaluate(...)` | `run.evaluate()`（`visionpath evaluate`） |

次の**第 1 回**では、同じ手書き数字で最初のネットワークを作ります。
"""}),
]
