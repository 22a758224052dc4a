# Lesson 5: where next. Cells in order; markdown in English and Japanese, code shared.
CELLS = [
("md", {"en": """
# Lesson 5 · Where next

You can now train a classifier for any folder of photos and read what it tells you. This last lesson points
further: bigger architectures, searching for better settings, competitions, and the tasks beyond classification:
detection, segmentation, and language. A few minutes on a laptop.
""", "ja": """
# 第5回 · この先へ

これで、どんな写真のフォルダでも分類器を学習させ、その結果を読み解けるようになりました。最後の回では、
さらに先への道を紹介します。より大きなアーキテクチャ、よりよい設定の探索、コンペティション、そして分類の先にある
タスク（物体検出、セグメンテーション、言語）です。ノートパソコンで数分かかります。
"""}),
("parameters", """
QUICK = False  # True: 20 digits a class, two settings and one epoch (the test suite runs the lessons this way)
"""),
("code", """
import csv
import json
import os
from pathlib import Path

import timm
import torch

import visionpath

DATA_DIR = os.environ.get("VISIONPATH_DATA_DIR")  # local copies of the data, if you have them; else downloaded once
PER_CLASS = 20 if QUICK else 200
RATES = [1e-3, 1e-2] if QUICK else [3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
EPOCHS = 1 if QUICK else 5
print("visionpath", visionpath.__version__, "· PyTorch", torch.__version__, "· timm", timm.__version__)
"""),
("md", {"en": """
## Bigger architectures, through timm

visionpath's own models are the ones the guide teaches with. Behind `timm:<name>` are the hundreds of
architectures of **timm** (PyTorch Image Models), each usable as a pretrained backbone exactly as Lesson 3 used
EfficientNet-Lite0: `visionpath train photos --model timm:convnext_tiny --pretrained`. Their ImageNet weights
come from the Hugging Face hub (downloaded once, then cached), or from a file with `--weights`. Bigger is
usually more accurate and always slower: compare on your own validation set.
""", "ja": """
## より大きなアーキテクチャ：timm

visionpath 自身のモデルは、ガイドで学ぶためのものです。`timm:<名前>` と書けば、**timm**（PyTorch Image Models）の
数百のアーキテクチャを、第 3 回で EfficientNet-Lite0 を使ったのとまったく同じように、事前学習済みの
バックボーンとして使えます：`visionpath train photos --model timm:convnext_tiny --pretrained`。ImageNet の重みは
Hugging Face Hub から取得する（初回にダウンロードし、以後はキャッシュ）か、`--weights` でファイルを指定します。
大きなモデルほどたいてい正確で、必ず遅くなります。自分の検証データで比べてください。
"""}),
("code", """
print(len(timm.list_models()), "architectures in timm; a few families:")
for name in ("resnet50", "convnext_tiny", "efficientnet_b0", "vit_small_patch16_224", "mobilenetv3_large_100"):
    with torch.device("meta"):  # shapes only: no memory, no time
        weights = sum(p.numel() for p in timm.create_model(name).parameters())
    print(f"  timm:{name:<24} {weights / 1e6:6.1f} M weights")
"""),
("md", {"en": """
## Searching for better settings

Learning rate, batch size, dropout, weight decay, augmentation, how much to fine-tune: each changes the result.
A **hyper-parameter search** trains with several settings, compares them **on validation only**, and scores the
chosen one on the test set once. The simplest search tries a list of values; smarter ones (Optuna's TPE sampler,
KerasTuner's Bayesian search) choose the next setting from the earlier results and stop bad trials early. Below,
the learning rate of a small CNN on a small copy of MNIST, by hand:
""", "ja": """
## よりよい設定を探す

学習率、バッチサイズ、ドロップアウト、重み減衰、データ拡張、どこまでファインチューニングするか。どれも結果を
変えます。**ハイパーパラメータ探索**では、いくつもの設定で学習し、**検証データだけで**比べ、選んだ設定を最後に
1 回だけテストデータで採点します。いちばん単純な探索は値のリストを順に試すことです。より賢い方法（Optuna の
TPE サンプラー、KerasTuner のベイズ最適化）は、それまでの結果から次に試す設定を選び、見込みのない試行を早めに
打ち切ります。ここでは、MNIST の小さなコピーで小さな CNN の学習率を手作業で探してみます。
"""}),
("code", """
mnist = visionpath.load_dataset("mnist", data_dir=DATA_DIR)
digits = visionpath.sample_folder(mnist, "digits", PER_CLASS)  # and 1/5 as many to validate, 2/5 to test

trials = {}
for rate in RATES:
    run = visionpath.train(digits, model="cnn", lr=rate, epochs=EPOCHS, batch_size=32, name=f"lr-{rate:g}")
    trials[rate] = (max(r["val_accuracy"] for r in run.history), run)
for rate, (accuracy, _) in trials.items():
    print(f"lr {rate:<8g} best validation accuracy {accuracy:.1%}")
best_rate = max(trials, key=lambda rate: trials[rate][0])
best = trials[best_rate][1]
test = json.loads((best.path / "test_metrics.json").read_text())["accuracy"]
print(f"chosen on validation: lr {best_rate:g}; its test accuracy, measured once: {test:.1%}")
"""),
("md", {"en": """
The winner's validation score is a little optimistic: of several settings, the luckiest on those validation
pictures won. That is why the test set is scored only for the chosen one, once. `visionpath tune` runs the same loop on
Optuna (`pip install 'visionpath[tune]'`): a smarter choice of the next setting (TPE), bad trials pruned by their
early epochs, the study kept in a database that several processes or machines can share, and the winner scored on
the test set once, with a page of pictures: `visionpath tune digits --model cnn --trials 20` (in Python,
`visionpath.tune("digits", model="cnn", trials=20)`).

## Competitions: a Kaggle submission

Kaggle's image competitions give a folder of unlabelled test photos and ask for a CSV of predictions, usually
`id,label`. `predict` writes one row per photo (`csv=`); a few lines turn it into the competition's format:
""", "ja": """
勝った設定の検証スコアは少し楽観的です。いくつもの設定のうち、その検証画像でたまたまいちばん運がよかったものが
勝つからです。だからこそテストデータは、選んだ設定について 1 回だけ採点します。`visionpath tune` は同じループを Optuna
（`pip install 'visionpath[tune]'`）で回します。次に試す設定を賢く選び（TPE）、最初の数エポックで見込みのない
試行を打ち切り、複数のプロセスやマシンで共有できるデータベースに探索の記録を残し、勝った設定をテストデータで
1 回だけ採点して、図のページを作ります：`visionpath tune digits --model cnn --trials 20`（Python では
`visionpath.tune("digits", model="cnn", trials=20)`）。

## コンペティション：Kaggle への提出

Kaggle の画像コンペでは、ラベルのないテスト画像のフォルダが配られ、予測を CSV（たいていは `id,label`）で
提出します。`predict` は写真ごとに 1 行を書き出す（`csv=`）ので、数行のコードでコンペの形式に直せます。
"""}),
("code", """
unlabelled = sorted((digits / "test").rglob("*.png"))[:8]
best.predict(unlabelled, csv="predictions.csv")
with open("predictions.csv", newline="") as source, open("submission.csv", "w", newline="") as out:
    writer = csv.writer(out)
    writer.writerow(["id", "label"])
    for row in csv.DictReader(source):
        writer.writerow([Path(row["path"]).stem, row["label"]])
print(Path("submission.csv").read_text())
"""),
("md", {"en": """
## Beyond classification: detection and segmentation

Classification gives one label per photo. **Object detection** finds every object and draws a box around each;
**segmentation** labels every pixel. The same ideas carry over (convolutional backbones pretrained on large
datasets, fine-tuned on your labelled photos), with other heads and other labels (boxes and outlines, drawn with
the tools of Lesson 4). **Ultralytics YOLO** is the usual next step, with commands much like visionpath's:

```
pip install ultralytics
yolo detect predict model=yolo11n.pt source=photo.jpg        # boxes around the 80 COCO classes
yolo detect train data=my_boxes.yaml model=yolo11n.pt         # your own labelled boxes
yolo segment predict model=yolo11n-seg.pt source=photo.jpg   # an outline for each object
```

## Beyond pictures: transfer learning in language

Language models are used the same way. **BERT** was pretrained on billions of words to fill in missing words;
for a task such as telling positive from negative reviews, a small head is added and the whole model fine-tuned
with a small learning rate on a few thousand labelled examples: Lesson 3's two stages, on text (Hugging Face's
`transformers` library). Today's large language models are the same idea at a far larger scale.

| the guide's Keras code | visionpath and its neighbours |
|---|---|
| `keras.applications.ResNet50(weights="imagenet", include_top=False)` | `model="timm:resnet50", pretrained=True` |
| `keras_tuner.RandomSearch(...)` | a loop over `visionpath.train(...)`, or `visionpath.tune(...)` (Optuna) |
| `model.predict(test_images)` then a CSV | `run.predict(files, csv="predictions.csv")` |
| `TFBertForSequenceClassification.from_pretrained(...)` | Hugging Face `transformers` (language, not visionpath) |

## The path, once more

1. Data, model, training, evaluation: the four steps of every lesson.
2. Dense networks for simple pictures, CNNs for photos; overfitting seen on the curves and fought.
3. Transfer learning: start from what a network learned on a million photos.
4. Your own photos, checked, split, trained, reported on and used.
5. From here: bigger backbones, searches, competitions, detection, segmentation, language.
""", "ja": """
## 分類の先へ：物体検出とセグメンテーション

分類は写真 1 枚に 1 つのラベルを付けます。**物体検出**は写っている物をすべて見つけてそれぞれを矩形で囲み、
**セグメンテーション**はピクセルごとにラベルを付けます。考え方はそのまま使えます（大きなデータセットで
事前学習した畳み込みのバックボーンを、ラベルを付けた自分の写真でファインチューニングする）。違うのはヘッドと
ラベルの種類（矩形や輪郭で、第 4 回のツールで描きます）です。次の一歩としてよく使われるのが **Ultralytics YOLO**
で、コマンドは visionpath とよく似ています。

```
pip install ultralytics
yolo detect predict model=yolo11n.pt source=photo.jpg        # COCO の 80 クラスを矩形で検出
yolo detect train data=my_boxes.yaml model=yolo11n.pt         # 自分でラベルを付けた矩形で学習
yolo segment predict model=yolo11n-seg.pt source=photo.jpg   # 物体ごとの輪郭
```

## 画像の先へ：言語の転移学習

言語モデルも同じように使われます。**BERT** は、数十億語の文章で、隠された単語を当てる事前学習をしたモデルです。
レビューが肯定的か否定的かを見分けるといったタスクには、小さなヘッドを加え、ラベル付きの例数千件でモデル全体を
小さな学習率でファインチューニングします。第 3 回の 2 段階の学習を、文章で行うわけです（Hugging Face の
`transformers` ライブラリ）。今日の大規模言語モデルも、同じ考え方をはるかに大きな規模で行ったものです。

| ガイドの Keras のコード | visionpath とその周辺 |
|---|---|
| `keras.applications.ResNet50(weights="imagenet", include_top=False)` | `model="timm:resnet50", pretrained=True` |
| `keras_tuner.RandomSearch(...)` | `visionpath.train(...)` のループ、または `visionpath.tune(...)`（Optuna） |
| `model.predict(test_images)` の後に CSV を作る | `run.predict(files, csv="predictions.csv")` |
| `TFBertForSequenceClassification.from_pretrained(...)` | Hugging Face の `transformers`（言語用。visionpath の範囲外） |

## ここまでの道のり

1. データ、モデル、学習、評価：どの回でも同じ 4 つのステップ。
2. 単純な画像には全結合ネットワーク、写真には CNN。過学習を学習曲線で見つけ、対策する。
3. 転移学習：100 万枚以上の写真で学習したネットワークから始める。
4. 自分の写真を確認し、分割し、学習し、レポートを読み、使う。
5. この先：より大きなバックボーン、探索、コンペティション、物体検出、セグメンテーション、言語。
"""}),
]
