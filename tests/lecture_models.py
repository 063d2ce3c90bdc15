"""The lecture's MDC and CNN graphs, built as the notebooks build them,
for tests that restore checkpoints without running a notebook."""

from __future__ import annotations

import tensorflow.compat.v1 as tf


def mdc_graph(num_filters: int = 16) -> dict:
    """[MDC-03] .. [MDC-05]: one learned convolution layer, 1,024 relu units."""
    x = tf.placeholder(tf.float32, [None, 784])
    x_image = tf.reshape(x, [-1, 28, 28, 1])
    W_conv = tf.Variable(tf.truncated_normal([5, 5, 1, num_filters], stddev=0.1))
    h_conv = tf.nn.conv2d(x_image, W_conv, strides=[1, 1, 1, 1], padding="SAME")
    h_pool = tf.nn.max_pool(h_conv, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    h_pool_flat = tf.reshape(h_pool, [-1, 14 * 14 * num_filters])
    num_units1 = 14 * 14 * num_filters
    num_units2 = 1024
    w2 = tf.Variable(tf.truncated_normal([num_units1, num_units2]))
    b2 = tf.Variable(tf.zeros([num_units2]))
    hidden2 = tf.nn.relu(tf.matmul(h_pool_flat, w2) + b2)
    w0 = tf.Variable(tf.zeros([num_units2, 10]))
    b0 = tf.Variable(tf.zeros([10]))
    p = tf.nn.softmax(tf.matmul(hidden2, w0) + b0)
    t = tf.placeholder(tf.float32, [None, 10])
    loss = -tf.reduce_sum(t * tf.log(p))
    train_step = tf.train.AdamOptimizer(0.0005).minimize(loss)
    correct = tf.equal(tf.argmax(p, 1), tf.argmax(t, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    return {"x": x, "t": t, "p": p, "train_step": train_step, "accuracy": accuracy, "feed": {}}


def cnn_graph(num_filters1: int = 32, num_filters2: int = 64) -> dict:
    """[CNN-03] .. [CNN-06]: two convolution layers, 1,024 units, dropout."""
    x = tf.placeholder(tf.float32, [None, 784])
    x_image = tf.reshape(x, [-1, 28, 28, 1])
    W_conv1 = tf.Variable(tf.truncated_normal([5, 5, 1, num_filters1], stddev=0.1))
    h_conv1 = tf.nn.conv2d(x_image, W_conv1, strides=[1, 1, 1, 1], padding="SAME")
    b_conv1 = tf.Variable(tf.constant(0.1, shape=[num_filters1]))
    h_conv1_cutoff = tf.nn.relu(h_conv1 + b_conv1)
    h_pool1 = tf.nn.max_pool(h_conv1_cutoff, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    W_conv2 = tf.Variable(tf.truncated_normal([5, 5, num_filters1, num_filters2], stddev=0.1))
    h_conv2 = tf.nn.conv2d(h_pool1, W_conv2, strides=[1, 1, 1, 1], padding="SAME")
    b_conv2 = tf.Variable(tf.constant(0.1, shape=[num_filters2]))
    h_conv2_cutoff = tf.nn.relu(h_conv2 + b_conv2)
    h_pool2 = tf.nn.max_pool(h_conv2_cutoff, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
    h_pool2_flat = tf.reshape(h_pool2, [-1, 7 * 7 * num_filters2])
    num_units1 = 7 * 7 * num_filters2
    num_units2 = 1024
    w2 = tf.Variable(tf.truncated_normal([num_units1, num_units2]))
    b2 = tf.Variable(tf.constant(0.1, shape=[num_units2]))
    hidden2 = tf.nn.relu(tf.matmul(h_pool2_flat, w2) + b2)
    keep_prob = tf.placeholder(tf.float32)
    hidden2_drop = tf.nn.dropout(hidden2, keep_prob)
    w0 = tf.Variable(tf.zeros([num_units2, 10]))
    b0 = tf.Variable(tf.zeros([10]))
    p = tf.nn.softmax(tf.matmul(hidden2_drop, w0) + b0)
    t = tf.placeholder(tf.float32, [None, 10])
    loss = -tf.reduce_sum(t * tf.log(p))
    train_step = tf.train.AdamOptimizer(0.0001).minimize(loss)
    correct = tf.equal(tf.argmax(p, 1), tf.argmax(t, 1))
    accuracy = tf.reduce_mean(tf.cast(correct, tf.float32))
    return {"x": x, "t": t, "p": p, "train_step": train_step, "accuracy": accuracy,
            "feed": {keep_prob: 1.0}, "keep_prob": keep_prob}


def evaluate(sess: tf.Session, model: dict, images, labels, chunk: int = 2500) -> float:
    """Mean accuracy over the test set, evaluated in chunks as [CNN-08] does."""
    values = []
    for start in range(0, len(images), chunk):
        feed = {model["x"]: images[start:start + chunk], model["t"]: labels[start:start + chunk], **model["feed"]}
        values.append(sess.run(model["accuracy"], feed_dict=feed))
    return float(sum(values) / len(values))
