"""Every string the page shows, in English and 中文: one table, key -> (en, zh). No gradio here.

``t(key, lang, **fmt)`` looks a string up and fills its ``{placeholders}``. Keys ending in
``.info`` are a control's help line. The page and the figures both read this table; a test checks
that every key has both languages, that neither is empty, and that the placeholders agree.
"""
from __future__ import annotations

import re

LANGS = ("en", "zh")
LANG_NAMES = {"en": "English", "zh": "中文"}

# Footnotes where the course notes are wrong and the page is right (shown under the notes they correct).
_FOOT_TYING = (
    "\n\n¹ Weight tying: the LM head reuses the token embedding wte, so for GPT-2 small it saves "
    "50,257 × 768 = 38,597,376 ≈ 38.6 M parameters, not the ~50 M the course notes give.",
    "\n\n¹ 权重共享：语言模型头（LM Head）直接复用词元嵌入 wte，对 GPT-2 small 省下 "
    "50,257 × 768 = 38,597,376 ≈ 38.6 M 个参数，而不是课程讲义中写的约 50 M。")
_FOOT_NUCLEUS = (
    "\n\n¹ Nucleus (top-p) sampling keeps the *smallest* set of the likeliest tokens whose probabilities add up to "
    "at least p, Σ ≥ p, as the sampler here computes it; the course notes' “exceeds p” (Σ > p) differs when the sum "
    "reaches p exactly.",
    "\n\n¹ 核采样（top-p）保留累计概率至少为 p（Σ ≥ p）的*最小*词元集合，这里的采样器就是这样计算的；"
    "课程讲义写的“超过 p”（Σ > p）在累计概率恰好等于 p 时会多留词元。")

STRINGS: dict[str, tuple[str, str]] = {
    # -- the classroom bar
    "lang": ("Language", "语言"),
    "lang.info": ("Every label, note and chart title", "所有标签、说明和图表标题"),
    "projector": ("Projector mode", "投影模式"),
    "projector.info": ("Larger text, higher contrast", "更大的字、更高的对比度"),
    "lessons": ("Lessons · one click sets up the page", "课程 · 一键设置页面"),
    "lesson_note": ("Pick a lesson above: it sets the controls, opens the right view and explains what to look for.",
                    "在上方选一节课：它会设置好参数、打开对应的视图，并说明要观察什么。"),
    "share": ("Share link", "分享链接"),
    "link": ("Link to what the class sees", "全班所见内容的链接"),
    "link.info": ("Prompt, model, settings, seed and steps; opening it rebuilds this page",
                  "包含提示词、模型、参数、随机种子和步数；打开它即可重现本页"),
    "link_problems": ("This link had values that could not be used; the defaults were kept for: {problems}",
                      "链接中有无法使用的值，以下各项已改用默认值：{problems}"),
    "link_restored": ("Restored from the link: {what}.", "已按链接恢复：{what}。"),
    # -- a tab whose state the server freed (playground.ui._tell_gone)
    "session.idle": ("This page's session expired after {idle} without use. Your prompt and settings were restored; "
                     "earlier steps are gone.",
                     "本页的会话闲置超过 {idle}，已过期。你的提示词和参数已恢复；之前生成的步骤已丢失。"),
    "session.evicted": ("This page's session was closed to make room on a busy server. Your prompt and settings were "
                        "restored; earlier steps are gone.",
                        "服务器繁忙，本页的会话已被关闭以腾出空间。你的提示词和参数已恢复；之前生成的步骤已丢失。"),
    "session.moved": ("This page's session expired: the server that kept it stopped or restarted. Your prompt and "
                      "settings were restored from the page; earlier steps are gone.",
                      "本页的会话已过期：保存它的服务器已停止或重启。你的提示词和参数已按本页恢复；之前生成的步骤已丢失。"),
    "unit.minutes": ("{n} minutes", "{n} 分钟"),
    "unit.seconds": ("{n} seconds", "{n} 秒"),
    # -- the sidebar
    "model": ("Model", "模型"),
    "model.info": ("The embedded Shakespeare GPT, or GPT-2 when it can be loaded",
                   "内置的莎士比亚 GPT；能加载时也可选 GPT-2"),
    "kv": ("KV cache", "KV 缓存"),
    "kv.info": ("Keep every token's keys and values, so a step computes them only for the newest token (attention still reads all "
         "the cached ones)",
                "保存每个词元的键和值：每一步只为最新的词元计算键和值（注意力仍要读取全部已缓存的键和值）"),
    "strategy": ("Decoding", "解码方式"),
    "strategy.info": ("greedy: always the most likely token · sample: draw from the distribution · "
                      "beam: keep several candidate texts",
                      "贪心：总选概率最大的词元 · 采样：按分布随机抽取 · 束搜索：同时保留几条候选文本"),
    "strategy.greedy": ("greedy", "贪心"),
    "strategy.sample": ("sample", "采样"),
    "strategy.beam": ("beam", "束搜索"),
    "temperature": ("Temperature", "温度"),
    "temperature.info": ("Divides the logits: below 1 sharpens, above 1 flattens; 0 = greedy",
                         "把 logits 除以温度：小于 1 更尖锐，大于 1 更平坦；0 = 贪心"),
    "top_k": ("Top-k", "Top-k"),
    "top_k.info": ("Keep only the k most likely tokens, or more on exact ties (0 = off)",
               "只保留概率最大的 k 个词元，概率完全并列时可能多于 k 个（0 = 关闭）"),
    "top_p": ("Top-p (nucleus)", "Top-p（核采样）"),
    "top_p.info": ("Keep the likeliest tokens until they add up to p (1 = off)",
                   "按概率从大到小保留词元，直到累计概率达到 p（1 = 关闭）"),
    "min_p": ("Min-p", "Min-p"),
    "min_p.info": ("Drop tokens below min-p × the top token's probability (0 = off)",
                   "去掉概率低于 min-p × 最大概率的词元（0 = 关闭）"),
    "penalty": ("Repetition penalty", "重复惩罚"),
    "penalty.info": ("Above 1, tokens already in the text become less likely (1 = off)",
                     "大于 1 时，文本中已出现的词元概率变小（1 = 关闭）"),
    "seed": ("Seed", "随机种子"),
    "seed.info": ("Same seed and settings = same tokens (press Enter to apply)",
                  "相同的种子和参数 = 相同的词元（按回车生效）"),
    "max_new": ("Max new tokens", "最多生成词元数"),
    "max_new.info": ("Run stops after this many generated tokens", "“运行”生成这么多词元后停止"),
    "stop": ("Stop strings", "停止字符串"),
    "stop.info": ("One per line; generation stops when one appears (\\n = newline)",
                  "每行一个；文本中出现时停止生成（\\n = 换行）"),
    "beam_settings": ("Beam search settings", "束搜索设置"),
    "num_beams": ("Beams", "束宽"),
    "num_beams.info": ("How many candidate texts beam search keeps at each step", "束搜索每一步保留多少条候选文本"),
    "length_penalty": ("Length penalty", "长度惩罚"),
    "length_penalty.info": ("Score = log p / length^this; above 0 favours longer texts",
                            "得分 = log p / 长度^该值；大于 0 时偏向更长的文本"),
    # -- the main column
    "title": ("## GPT Playground · watch a small GPT write one token at a time",
              "## GPT 演练场 · 看一个小 GPT 一次写一个词元"),
    "prompt": ("Prompt", "提示词"),
    "prompt.info": ("The text the model continues. Changing it starts over (Enter or Reset).",
                    "模型要续写的文本。修改后重新开始（回车或“重置”）。"),
    "step": ("Step ▶", "单步 ▶"),
    "run": ("Run ▶▶", "运行 ▶▶"),
    "back": ("◀ Back", "◀ 后退"),
    "reset": ("Reset ↺", "重置 ↺"),
    "examples": ("Example prompts", "示例提示词"),
    "view_step": ("Inspect step", "查看第几步"),
    "view_step.info": ("Which generated token the views above explain (or click a coloured token); the status names it",
                       "上面的视图解释哪一个生成的词元（也可以点击彩色词元）；状态行写出是第几步"),
    "text": ("Text so far", "当前文本"),
    "tab.next": ("Next token", "下一个词元"),
    "tab.attention": ("Attention", "注意力"),
    "tab.mask": ("Causal mask", "因果掩码"),
    "tab.kv": ("KV cache", "KV 缓存"),
    "tab.beam": ("Beam search", "束搜索"),
    "tab.compare": ("Compare", "对比"),
    "tab.train": ("Train", "训练"),
    "tab.inside": ("Inside the model", "模型内部"),
    "mode": ("Bars show", "柱条表示"),
    "mode.info": ("Probabilities after softmax, or the scores (logits) before it",
                  "softmax 之后的概率，或之前的得分（logits）"),
    "mode.probabilities": ("probabilities", "概率"),
    "mode.logits": ("logits", "logits"),
    "next_plot": ("Next-token distribution by decoding stage", "各解码阶段的下一个词元分布"),
    "layer": ("Layer", "层"),
    "layer.info": ("Which transformer block", "哪一个 Transformer 块"),
    "head": ("Head", "头"),
    "head.info": ("Which attention head of that block (or click a tile below)", "该块中的哪个注意力头（也可点击下方的小图）"),
    "attn_plot": ("One head", "单个头"),
    "overview_plot": ("Every layer and head", "所有层和头"),
    "mask_intro": ("Each token may only look at itself and earlier tokens. The four panels follow one head "
                   "(pick it in the Attention tab): the cells the mask allows, the raw scores QKᵀ/√d, the same "
                   "scores with the future set to −∞, and softmax, which turns −∞ into exactly 0.",
                   "每个词元只能看它自己和它之前的词元。四个面板跟随同一个头（在“注意力”页选择）：掩码允许的格子、"
                   "原始得分 QKᵀ/√d、把未来位置设为 −∞ 后的得分，以及 softmax——它把 −∞ 变成恰好 0。"),
    "mask_plot": ("Causal mask", "因果掩码"),
    "leak_pos": ("Change the token at position", "修改第几个位置的词元"),
    "leak_pos.info": ("0 = the first token. A big model checks at most its first tokens (GPT-2 small: 439)",
                      "0 = 第一个词元。大模型最多检查前若干个词元（GPT-2 small：439 个）"),
    "leak_text": ("Put this token there", "换成这个词元"),
    "leak_text.info": ("Its first token is used", "只用它的第一个词元"),
    "leak_btn": ("Run the leak check", "运行信息泄露检查"),
    "leak_plot": ("Leak check", "信息泄露检查"),
    "latency_plot": ("Time per step", "每步耗时"),
    "memory_plot": ("Cache memory", "缓存占用内存"),
    "compare_n": ("Tokens to generate", "生成词元数"),
    "compare_n.info": ("A greedy run from the prompt, timed with the cache on and off. Capped by cost, to end within "
                       "seconds: a big model compares fewer tokens (GPT-2 small: 34 after a short prompt) and says so",
                       "从提示词开始贪心生成，分别在开启和关闭缓存时计时。按计算量设上限，保证几秒内完成：大模型比较的词元更少"
                       "（GPT-2 small：短提示词后 34 个），并会说明"),
    "compare_btn": ("Compare cache on / off", "对比开启 / 关闭缓存"),
    "compare_plot": ("Cache on vs off", "开启与关闭缓存"),
    "gqa_btn": ("Compare with grouped-query attention (shakespeare vs shakespeare-gqa)",
                "与分组查询注意力对比（shakespeare 与 shakespeare-gqa）"),
    "gqa_plot": ("Multi-head vs grouped-query KV cache", "多头与分组查询的 KV 缓存"),
    "beam_btn": ("Run beam search", "运行束搜索"),
    "beam_plot": ("Beam search tree", "束搜索树"),
    "train_intro": ("Train a small GPT from scratch on the Shakespeare corpus and watch it learn: the loss falls, the "
                    "sample turns from gibberish into words, attention takes shape. The objective: the logits at each "
                    "position predict the *next* token (targets = inputs shifted by one), scored by cross-entropy. "
                    "Server limits: {steps} steps, {secs} s, {params} parameters, {block}-token context, {conc} "
                    "training(s) at a time.{off}",
                    "从零开始在莎士比亚语料上训练一个小 GPT，看它学习：损失下降，样本从乱码变成单词，注意力逐渐成形。"
                    "训练目标：每个位置的 logits 预测*下一个*词元（标签 = 输入右移一位），用交叉熵计算损失。"
                    "服务器限制：{steps} 步，{secs} 秒，{params} 个参数，{block} 词元上下文，同时最多 {conc} 个训练。{off}"),
    "train_off": (" **Training is turned off on this server.**", " **这台服务器关闭了训练。**"),
    "loss_plot": ("Loss", "损失"),
    "train_attn": ("Attention while training", "训练中的注意力"),
    "objective_plot": ("The objective", "训练目标"),
    "fig.press_train": ("Press Train: the loss curves appear here", "按“训练”：损失曲线显示在这里"),
    "fig.train_attn": ("Attention of one head on a fixed sentence", "一个头在固定句子上的注意力"),
    "fig.objective": ("The objective on one training row", "一行训练数据上的训练目标"),
    "train_hint": ("Pick a preset and press **Train**.", "选一个预设，然后按 **训练**。"),
    "preset": ("Preset", "预设"),
    "preset.info": ("Steps and time on one CPU thread of an idle server; the loss starts at 8.3 (a random guess among "
                    "4,096 tokens), 6.3 is knowing only how often each token occurs",
                    "步数和时间按空闲服务器的一个 CPU 线程估算；损失从 8.3 开始（在 4,096 个词元中随机猜），"
                    "6.3 相当于只知道每个词元出现的频率"),
    "preset.tiny": ("tiny · 1 layer, 64 wide · 300 steps ≈ 30 s → loss ~5.6, first words",
                    "微型 · 1 层 64 维 · 300 步 ≈ 30 秒 → 损失约 5.6，出现单词"),
    "preset.small": ("small · 2 layers, 96 wide · 300 steps ≈ 40 s → loss ~5.4, words",
                     "小型 · 2 层 96 维 · 300 步 ≈ 40 秒 → 损失约 5.4，出现单词"),
    "preset.deeper": ("deeper · 4 layers, 64 wide · 300 steps ≈ 45 s → loss ~5.5, words",
                      "更深 · 4 层 64 维 · 300 步 ≈ 45 秒 → 损失约 5.5，出现单词"),
    "train_btn": ("Train ▶", "训练 ▶"),
    "train_stop": ("Stop ■", "停止 ■"),
    "t_layers": ("Layers", "层数"),
    "t_layers.info": ("Transformer blocks stacked on top of each other", "堆叠的 Transformer 块数"),
    "t_heads": ("Heads", "头数"),
    "t_heads.info": ("Must divide the width", "必须能整除宽度"),
    "t_width": ("Width (n_embd)", "宽度（n_embd）"),
    "t_width.info": ("Size of each token's vector in the residual stream", "残差流中每个词元向量的维度"),
    "t_block": ("Context (tokens)", "上下文（词元）"),
    "t_lr": ("Learning rate", "学习率"),
    "t_lr.info": ("AdamW step size; 1e-3 to 1e-2 suits these small models (the smaller, the higher)",
                  "AdamW 的步长；这些小模型适合 1e-3 到 1e-2（模型越小，可以越大）"),
    "t_steps": ("Steps", "训练步数"),
    "t_limit": ("This server allows up to {n}", "这台服务器最多允许 {n}"),
    "inside_layer": ("Layer", "层"),
    "inside_layer.info": ("Which block to open", "打开哪一个块"),
    "inside_head": ("Head", "头"),
    "inside_head.info": ("Which attention head", "哪一个注意力头"),
    "inside_btn": ("Draw this forward pass", "绘制这次前向传播"),
    "inside_intro": ("Follow one forward pass through the network: the real numbers, with the model's real sizes. "
                     "Blue = negative, red = positive (each panel its own scale); rows are tokens.",
                     "跟随一次前向传播穿过网络：真实的数值、模型真实的尺寸。蓝 = 负，红 = 正（每个面板各自的色标）；"
                     "每一行是一个词元。"),
    # -- the Compare tab
    "cmp_intro": ("Run the same prompt under up to four settings side by side. A column's prompt left empty "
                  "uses the page's prompt; temperature 0 means greedy. Seed and max new tokens come from the "
                  "sidebar. The chart shows, step by step, the distribution each column drew its token from (the "
                  "slider under it picks the step) and, on top, how likely each chosen token was.",
                  "用最多四组参数并排运行同一个提示词。某一列的提示词留空就用页面上的提示词；温度为 0 即贪心。"
                  "随机种子和最多生成词元数取自侧栏。图中逐步显示每一列抽取词元时所用的分布（用图下方的滑块选择第几步），"
                  "上方的折线是每个选中词元的概率。"),
    "cmp_on": ("Column {side}", "第 {side} 列"),
    "cmp_prompt": ("Prompt (empty = the page's)", "提示词（留空 = 页面上的）"),
    "cmp_btn": ("Compare ▶", "对比 ▶"),
    "cmp_plot": ("Next-token distributions side by side, step by step", "并排的下一个词元分布，逐步查看"),
    "cmp_placeholder": ("Press Compare: each column's next-token distributions appear here, step by step",
                        "按“对比”：每一列逐步的下一个词元分布显示在这里"),
    "cmp_table_head": ("| column | settings | continuation |", "| 列 | 参数 | 续写 |"),
    "cmp_greedy": ("greedy", "贪心"),
    "cmp_penalty": ("penalty", "重复惩罚"),
    # -- "What am I looking at?"
    "note": ("What am I looking at?", "我在看什么？"),
    "note.next": (
        "Each panel is one stage of the decoding pipeline, left to right: raw scores, repetition penalty, "
        "temperature, top-k, top-p, min-p. Grey hatched bars are tokens a stage removed; orange is the token "
        "chosen. Temperature divides the logits before the softmax:\n\n"
        "$$p_i = \\frac{e^{z_i/T}}{\\sum_j e^{z_j/T}}$$\n\n"
        "$T<1$ sharpens the distribution, $T>1$ flattens it; greedy takes $\\arg\\max_i z_i$.",
        "每个面板是解码流水线的一个阶段，从左到右：原始得分、重复惩罚、温度、top-k、top-p、min-p。灰色斜纹柱条是"
        "该阶段去掉的词元；橙色是被选中的词元。softmax 之前先把 logits 除以温度 $T$：\n\n"
        "$$p_i = \\frac{e^{z_i/T}}{\\sum_j e^{z_j/T}}$$\n\n"
        "$T<1$ 让分布更尖锐，$T>1$ 让它更平坦；贪心直接取 $\\arg\\max_i z_i$。"),
    "note.attention": (
        "Row = the token that is reading (query), column = the token it reads (key); a row's weights add up "
        "to 1. One head computes\n\n$$A = \\mathrm{softmax}\\!\\left(\\frac{QK^\\top}{\\sqrt{d}} + M\\right)$$\n\n"
        "and its output is $AV$. The grid below shows every layer and head at once; click a tile to open it.",
        "行 = 正在读取的词元（查询），列 = 被读取的词元（键）；每一行的权重之和为 1。一个头计算\n\n"
        "$$A = \\mathrm{softmax}\\!\\left(\\frac{QK^\\top}{\\sqrt{d}} + M\\right)$$\n\n"
        "输出是 $AV$。下方的网格同时显示所有层和头；点击一个小图即可打开它。"),
    "note.mask": (
        "The mask $M$ is $0$ where a query may look ($j \\le i$) and $-\\infty$ where it would see the future "
        "($j > i$). Since $e^{-\\infty} = 0$, softmax gives future tokens weight exactly 0. The leak check "
        "changes one token and shows that no earlier position's prediction moves.",
        "掩码 $M$ 在允许看的位置（$j \\le i$）为 $0$，在会看到未来的位置（$j > i$）为 $-\\infty$。因为 "
        "$e^{-\\infty} = 0$，softmax 给未来词元的权重恰好是 0。信息泄露检查修改一个词元，显示它之前的所有位置的预测都不变。"),
    "note.kv": (
        "With the cache on, each step computes keys and values only for the newest token and reuses the "
        "stored ones. The new query still reads all $T$ cached keys and values, so a step costs $O(T)$ instead of "
        "running the whole text through every block again (without the cache each step re-runs all $T$ positions "
        "through every block; the LM head runs at the last position only, in both runs). The cache costs memory:\n\n"
        "$$\\text{bytes} = 2 \\times L \\times B \\times H_{kv} \\times T \\times d_h \\times "
        "\\text{bytes per value}$$\n\n(2 = keys and values, $L$ layers, $B$ batch, $H_{kv}$ key/value heads, "
        "$T$ positions, $d_h$ the size of each head.) Grouped-query attention shrinks $H_{kv}$.",
        "开启缓存时，每一步只为最新的词元计算键和值，其余的直接复用；新的查询仍要读取全部 $T$ 个已缓存的键和值，所以每一步的代价是 "
        "$O(T)$，而不是让整段文本重新经过每一个块（不用缓存时，每一步都让全部 $T$ 个位置重新经过每一个块；两种方式的语言模型头"
        "（LM Head）都只在最后一个位置计算）。"
        "缓存要占内存：\n\n"
        "$$\\text{字节数} = 2 \\times L \\times B \\times H_{kv} \\times T \\times d_h \\times "
        "\\text{每个值的字节数}$$\n\n（2 = 键和值，$L$ 层，$B$ 批大小，$H_{kv}$ 个键/值头，$T$ 个位置，$d_h$ 为每个头的维度。）"
        "分组查询注意力减小的是 $H_{kv}$。"),
    "note.beam": (
        "Beam search keeps the $k$ best partial texts at every step instead of one. A finished text is ranked "
        "by\n\n$$\\text{score} = \\frac{\\sum_t \\log p(x_t \\mid x_{<t})}{\\text{length}^{\\alpha}}$$\n\n"
        "with $\\alpha$ the length penalty. The tree shows the 2k best continuations of each step (the candidates it "
        "ranks before keeping k), not every possible token; the best path is highlighted.",
        "束搜索每一步保留 $k$ 条最好的候选序列，而不是只保留一条。已完成的候选序列按\n\n"
        "$$\\text{得分} = \\frac{\\sum_t \\log p(x_t \\mid x_{<t})}{\\text{长度}^{\\alpha}}$$\n\n"
        "排序，$\\alpha$ 是长度惩罚。树中画出每一步最好的 2k 个延续（保留 k 条之前参与排序的候选），而不是所有可能的词元；"
        "最佳路径被高亮。"),
    "note.compare": (
        "Each column runs the same model from its prompt with its own settings. The chart shows the first "
        "next-token distribution each setting leaves (how many tokens it keeps), the table what each one "
        "goes on to write. Top-p¹ keeps the smallest set with\n\n$$\\sum_{i \\in V_p} p_i \\ge p$$\n\n"
        "so it keeps few tokens when the model is sure and many when it is not; top-k always keeps $k$, or more on "
        "exact ties." + _FOOT_NUCLEUS[0],
        "每一列用同一个模型、从各自的提示词、用各自的参数运行。图中是每组参数留下的第一步的下一个词元分布"
        "（保留了多少词元），表格是各自接着写出的文本。Top-p¹ 保留满足\n\n$$\\sum_{i \\in V_p} p_i \\ge p$$\n\n"
        "的最小集合，所以模型有把握时只留很少的词元，没把握时留很多；top-k 总是保留 $k$ 个，概率完全并列时更多。"
        + _FOOT_NUCLEUS[1]),
    "note.train": (
        "Training shows the model text and asks it, at every position, for the next token: the targets are "
        "the inputs shifted by one. The loss is the cross-entropy\n\n"
        "$$\\mathcal{L} = -\\frac{1}{T}\\sum_{t=1}^{T} \\log p_\\theta(x_{t+1} \\mid x_{\\le t})$$\n\n"
        "A model that guesses uniformly over $V$ tokens scores $\\ln V$; the curve falls as it learns.",
        "训练时给模型看文本，要它在每个位置预测下一个词元：标签就是把输入右移一位。损失是交叉熵\n\n"
        "$$\\mathcal{L} = -\\frac{1}{T}\\sum_{t=1}^{T} \\log p_\\theta(x_{t+1} \\mid x_{\\le t})$$\n\n"
        "在 $V$ 个词元上均匀乱猜的模型得分为 $\\ln V$；模型学到东西时曲线下降。"),
    "note.inside": (
        "One forward pass, block by block: embeddings, then in each block $x \\leftarrow x + "
        "\\mathrm{Attn}(\\mathrm{LN}(x))$ and $x \\leftarrow x + \\mathrm{MLP}(\\mathrm{LN}(x))$, then the "
        "final LayerNorm and the output head (LM head¹), $p(x_{t+1}) = \\mathrm{softmax}(W h_t)$. The logit lens applies "
        "that head after every block. This is GPT-2's pre-LN block: LayerNorm comes before each sublayer, inside "
        "the residual branch. The course's formulas are post-LN (the original Transformer), $x \\leftarrow "
        "\\mathrm{LN}(x + \\mathrm{Attn}(x))$, normalising after the residual add; pre-LN leaves the residual path "
        "un-normalised, which trains deep stacks more stably, and so needs the final LayerNorm." + _FOOT_TYING[0],
        "逐块走一遍前向传播：先是嵌入，然后每个块里 $x \\leftarrow x + \\mathrm{Attn}(\\mathrm{LN}(x))$、"
        "$x \\leftarrow x + \\mathrm{MLP}(\\mathrm{LN}(x))$，最后是 LayerNorm 和语言模型头（LM Head）¹，"
        "$p(x_{t+1}) = \\mathrm{softmax}(W h_t)$。Logit lens 在每个块之后都套用这个语言模型头。这是 GPT-2 的 pre-LN 块："
        "LayerNorm 放在每个子层之前、残差分支之内。课程讲义的公式是 post-LN（原始 Transformer）："
        "$x \\leftarrow \\mathrm{LN}(x + \\mathrm{Attn}(x))$，在残差相加之后再归一化；pre-LN 让残差通路不经归一化，"
        "深层网络训练更稳定，因此最后还需要一个 LayerNorm。" + _FOOT_TYING[1]),
    # -- lessons
    "lesson.mask.title": ("The causal mask: no peeking at the future", "因果掩码：不许偷看未来"),
    "lesson.mask.body": (
        "Read the four panels left to right, top to bottom: the mask, the raw scores, the scores with the "
        "future set to $-\\infty$, and the softmax, where every cell above the diagonal is exactly 0: "
        "$A = \\mathrm{softmax}(QK^\\top/\\sqrt{d} + M)$. The leak check below changed token 3 to “ the”: "
        "positions 0–2 predict exactly as before, so no position can see a later token.",
        "按从左到右、从上到下读四个面板：掩码、原始得分、把未来设为 $-\\infty$ 的得分，以及 softmax——对角线以上的"
        "每个格子都恰好为 0：$A = \\mathrm{softmax}(QK^\\top/\\sqrt{d} + M)$。下面的信息泄露检查把第 3 个词元换成了"
        "“ the”：位置 0–2 的预测完全不变，所以没有哪个位置能看到后面的词元。"),
    "lesson.sampling.title": ("Greedy vs sampling", "贪心与采样"),
    "lesson.sampling.body": (
        "Same prompt, same seed: greedy ($T = 0$), $T = 0.7$ and $T = 1.5$, with "
        "$p_i = e^{z_i/T} / \\sum_j e^{z_j/T}$. Greedy falls into a loop (the same two lines again and again); "
        "$T = 0.7$ sharpens the distribution and writes a plausible scene; $T = 1.5$ flattens it and invents "
        "words. Change the seed in the sidebar and press Compare: only the sampled columns change.",
        "同一个提示词、同一个种子：贪心（$T = 0$）、$T = 0.7$ 和 $T = 1.5$，其中 "
        "$p_i = e^{z_i/T} / \\sum_j e^{z_j/T}$。贪心陷入循环（同样两行一再重复）；$T = 0.7$ 让分布更尖锐，"
        "写出像样的一场戏；$T = 1.5$ 让分布更平坦，开始编造单词。在侧栏改种子再按“对比”：只有采样的列会变。"),
    "lesson.topk_topp.title": ("Top-k vs top-p", "Top-k 与 top-p"),
    "lesson.topk_topp.body": (
        "Two contexts: after “To-morrow, and to-” the model is sure (“morrow” ≈ 68 %), after “The” it is not. "
        "Top-k = 10 keeps 10 tokens in both. Top-p = 0.9 keeps the smallest set with "
        "$\\sum_{i \\in V_p} p_i \\ge 0.9$: 2 tokens in the peaked case, hundreds in the flat one. Top-p adapts "
        "to the model's confidence; top-k does not.",
        "两个语境：在“To-morrow, and to-”之后模型很有把握（“morrow”约 68 %），在“The”之后则没有。"
        "Top-k = 10 在两处都保留 10 个词元。Top-p = 0.9 保留满足 $\\sum_{i \\in V_p} p_i \\ge 0.9$ 的最小集合："
        "尖锐时只有 2 个词元，平坦时有几百个。Top-p 随模型的把握程度而变，top-k 不会。"),
    "lesson.penalty.title": ("Repetition penalty", "重复惩罚"),
    "lesson.penalty.body": (
        "Greedy decoding from “ROMEO:” loops: “MESSENGER. He is not so.” five times. The repetition penalty "
        "$r$ divides the logit of every token already in the text when it is positive and multiplies it when "
        "it is negative ($z_i \\to z_i / r$ or $z_i \\cdot r$), so repeats become less likely. With $r = 1.2$ "
        "the same greedy decoding leaves the loop and goes on to a new scene.",
        "从“ROMEO:”开始的贪心解码会循环：“MESSENGER. He is not so.”重复五次。重复惩罚 $r$ 对文本中已出现的"
        "每个词元，logit 为正时除以 $r$、为负时乘以 $r$（$z_i \\to z_i / r$ 或 $z_i \\cdot r$），让重复变得更不可能。"
        "取 $r = 1.2$ 时，同样的贪心解码跳出了循环，写到了新的一场。"),
    "lesson.beam.title": ("Beam search", "束搜索"),
    "lesson.beam.body": (
        "Four beams, ten tokens from “ROMEO:”. At each step every beam is extended by its likeliest tokens "
        "and only the 4 best partial texts survive, ranked by "
        "$\\sum_t \\log p(x_t \\mid x_{<t}) / \\text{length}^{\\alpha}$. The tree shows which candidates were "
        "dropped; the table lists the finished texts and their scores.",
        "从“ROMEO:”开始，束宽为 4，生成 10 个词元。每一步把每个候选序列用它最可能的词元延长，只留下最好的 4 个候选序列，"
        "按 $\\sum_t \\log p(x_t \\mid x_{<t}) / \\text{长度}^{\\alpha}$ 排序。树中显示哪些候选序列被淘汰；"
        "表格列出已完成的候选序列及其得分。"),
    "lesson.kv.title": ("Why the KV cache", "为什么要 KV 缓存"),
    "lesson.kv.body": (
        "The comparison generates 200 tokens greedily twice. Without the cache every step re-reads the whole "
        "text through every block (the LM head only at the last position), so its time grows fast with the length; with "
        "the cache a step computes one new token, whose query still reads all $T$ cached keys and values: $O(T)$ per "
        "step, a line that rises far more slowly. "
        "Both give the same tokens. The price is memory: "
        "$2 \\times L \\times H_{kv} \\times T \\times d_h \\times$ bytes, growing with every position $T$.",
        "对比实验贪心生成 200 个词元两次。不用缓存时每一步都让整段文本重新经过每一个块（语言模型头（LM Head）只算最后一个位置），"
        "耗时随长度快速增长；用缓存时每一步只计算一个新词元，但它的查询仍要读取全部 $T$ 个已缓存的键和值：每步 $O(T)$，"
        "曲线上升得慢得多。两次得到的词元完全相同。代价是内存："
        "$2 \\times L \\times H_{kv} \\times T \\times d_h \\times$ 字节数，随位置数 $T$ 增长。"),
    "lesson.gqa.title": ("GQA and cache memory", "GQA 与缓存内存"),
    "lesson.gqa.body": (
        "Grouped-query attention lets a group of query heads share one key/value head, so the cache stores "
        "$H_{kv} < H$ heads: $\\text{bytes} = 2 \\times L \\times H_{kv} \\times T \\times d_h \\times$ "
        "bytes per value. The chart compares the multi-head model with its GQA twin at every position; the "
        "saving is $1 - H_{kv}/H$.",
        "分组查询注意力让一组查询头共用一个键/值头，所以缓存只存 $H_{kv} < H$ 个头："
        "$\\text{字节数} = 2 \\times L \\times H_{kv} \\times T \\times d_h \\times$ 每个值的字节数。"
        "图中在每个位置比较多头模型和它的 GQA 版本；节省的比例是 $1 - H_{kv}/H$。"),
    "lesson.gqa.missing_short": ("The GQA model is not available on this server yet (see below)",
                                 "这台服务器上还没有 GQA 模型（见下方说明）"),
    "lesson.gqa.missing": ("The GQA model is not available on this server yet: {why}",
                           "这台服务器上还没有 GQA 模型：{why}"),
    "lesson.train.title": ("Watch it learn", "看它学习"),
    "lesson.train.body": (
        "Press **Train ▶**: a small GPT starts from random weights. Its loss is the cross-entropy of the "
        "shifted targets, $\\mathcal{L} = -\\frac{1}{T}\\sum_t \\log p_\\theta(x_{t+1} \\mid x_{\\le t})$, "
        "which starts near $\\ln V$ (random guessing) and falls. Watch the sample turn from gibberish into "
        "words and the attention pattern take shape.",
        "按 **训练 ▶**：一个小 GPT 从随机权重开始。它的损失是在右移一位的标签上用交叉熵计算的，"
        "$\\mathcal{L} = -\\frac{1}{T}\\sum_t \\log p_\\theta(x_{t+1} \\mid x_{\\le t})$，"
        "从接近 $\\ln V$（随机乱猜）开始下降。看样本从乱码变成单词，注意力图逐渐成形。"),
    # -- figure titles and axes
    "fig.step_title": ("Step {step}: chose “{token}” ({how}) · p = {p}<br>rank {rank} of {vocab} · entropy {entropy} nats{again}",
                       "第 {step} 步：选了“{token}”（{how}）· p = {p}<br>{vocab} 个中排第 {rank} · 熵 {entropy} nats{again}"),
    "fig.how_greedy": ("greedy: the most likely", "贪心：概率最大"),
    "fig.how_sampled": ("sampled", "采样"),
    "fig.again": (" · re-decided from cached logits (no model run)", " · 用缓存的 logits 重新决定（未运行模型）"),
    "fig.press_step": ("Press Step: the next-token distribution of each decoding stage appears here",
                       "按“单步”：各解码阶段的下一个词元分布显示在这里"),
    "fig.press_step_attn": ("Press Step: attention appears once the model has read the prompt",
                            "按“单步”：模型读完提示词后，这里显示注意力"),
    "fig.press_step_kv": ("Press Step: time and memory of every step are measured here", "按“单步”：这里测量每一步的时间和内存"),
    "fig.press_leak": ("Change a later token: earlier predictions must not move", "修改一个靠后的词元：前面的预测不应改变"),
    "fig.press_compare_cache": ("Press “Compare cache on / off”", "按“对比开启 / 关闭缓存”"),
    "fig.press_gqa": ("Press the button: cache bytes of the two shipped models", "按下按钮：两个内置模型的缓存字节数"),
    "fig.press_beam": ("Choose decoding “beam” and press Step or Run beam search", "选择解码方式“束搜索”，然后按“单步”或“运行束搜索”"),
    "fig.attn_title": ("Attention · layer {layer}, head {head}<br>each row: which earlier tokens that token reads",
                       "注意力 · 第 {layer} 层，第 {head} 个头<br>每一行：该词元读取了哪些更早的词元"),
    "fig.attn_x": ("key (attended-to) token", "键（被关注的）词元"),
    "fig.attn_y": ("query token", "查询词元"),
    "fig.overview_title": ("All {L} layers × {H} heads ({shown}) · click a tile to open that head",
                           "全部 {L} 层 × {H} 个头（{shown}）· 点击小图打开该头"),
    "fig.all_positions": ("all {S} positions read", "已读入的全部 {S} 个位置"),
    "fig.last_positions": ("last {W} of {total} positions read", "已读入的 {total} 个位置中的最后 {W} 个"),
    "fig.head_n": ("head {h}", "头 {h}"),
    "fig.layer_n": ("layer {l}", "层 {l}"),
    "fig.mask_title": ("Causal mask · layer {layer}, head {head} · {shown} (row = query, column = key)",
                       "因果掩码 · 第 {layer} 层，第 {head} 个头 · {shown}（行 = 查询，列 = 键）"),
    "fig.mask_first": ("first {n} of {total} positions", "{total} 个位置中的前 {n} 个"),
    "fig.mask_all": ("{total} positions", "{total} 个位置"),
    "fig.mask_p1": ("① the mask: 1 = may look, 0 = hidden", "① 掩码：1 = 可以看，0 = 被遮住"),
    "fig.mask_p2": ("② raw scores QKᵀ/√d", "② 原始得分 QKᵀ/√d"),
    "fig.mask_p3": ("③ masked scores: the future becomes {neg}", "③ 掩码后的得分：未来变成 {neg}"),
    "fig.mask_p4": ("④ softmax: each row sums to 1, future = 0", "④ softmax：每行和为 1，未来 = 0"),
    "fig.query": ("query", "查询"),
    "fig.leak_title": ("Leak check: token {at} → “{who}” · positions 0–{last}: {verdict}",
                       "信息泄露检查：第 {at} 个词元 → “{who}” · 位置 0–{last}：{verdict}"),
    "fig.leak_title0": ("Leak check: token 0 → “{who}” (every position sees it)", "信息泄露检查：第 0 个词元 → “{who}”（每个位置都看得到它）"),
    "fig.leak_ok": ("unchanged, exactly ✓", "完全不变 ✓"),
    "fig.leak_note": ("these positions see the change", "这些位置能看到改动"),
    "fig.leak_x": ("position (its token)", "位置（及其词元）"),
    "fig.leak_y": ("p(original top next token)", "p（原先最可能的下一个词元）"),
    "fig.leak_before": ("original text", "原文本"),
    "fig.leak_after": ("token {at} changed", "第 {at} 个词元已修改"),
    "fig.bar_prob": ("probability", "概率"),
    "fig.bar_logit": ("logit (score before softmax)", "logit（softmax 之前的得分）"),
    "fig.bar_is": ("bar = {what}:  ", "柱条 = {what}：  "),
    "fig.more": ("+ {n}<br>more", "+ 另外<br>{n} 个"),  # under a narrow panel: short lines
    "fig.removed": ("removed", "已去掉"),
    "fig.below": ("below top list", "不在前列"),
    "fig.chosen": ("chosen", "选中"),
    "fig.kept": ("kept", "保留"),
    "fig.latency_title": ("Time per step", "每步耗时"),
    "fig.median": (" · median forward {ms} ms", " · 前向传播耗时中位数 {ms} ms"),
    "fig.step": ("step", "步"),
    "fig.ms": ("milliseconds", "毫秒"),
    "fig.fwd_on": ("forward, cache on", "前向传播，开启缓存"),
    "fig.fwd_off": ("forward, cache off", "前向传播，关闭缓存"),
    "fig.whole_step": ("whole step", "整步"),
    "kv.formula": ("2 × {L} layers × {B} batch × {kv} kv_heads × {T} positions × {d} head_dim × {b} bytes = {total} bytes",
                   "2 × {L} 层 × 批大小 {B} × {kv} 个 KV 头 × {T} 个位置 × 每个头 {d} 维 × 每个值 {b} 字节 = {total} 字节"),
    "fig.mem_title": ("KV cache memory · {per:,} bytes per position · full {block}-token window = {full}",
                      "KV 缓存占用内存 · 每个位置 {per:,} 字节 · 完整 {block} 词元窗口 = {full}"),
    "fig.positions": ("positions in the cache", "缓存中的位置数"),
    "fig.formula": ("formula", "公式"),
    "fig.in_use": ("measured (in use)", "实测（已使用）"),
    "fig.reserved": ("reserved buffers", "预留的缓冲区"),
    "fig.cmpcache_title": ("Cache on vs off · {speed:.1f}× faster in total · {same} · max |Δlogit| {diff:.1e}",
                           "开启与关闭缓存 · 总体提速 {speed:.1f}× · {same} · 最大 |Δlogit| {diff:.1e}"),
    "fig.same_tokens": ("same tokens ✓", "词元相同 ✓"),
    "fig.diff_tokens": ("tokens differ ✗", "词元不同 ✗"),
    "fig.cache_off": ("cache off (re-reads everything)", "关闭缓存（每次重读全部）"),
    "fig.cache_on": ("cache on (1 new token, reads all cached)", "开启缓存（算 1 个新词元，读全部缓存）"),
    "fig.ctx_len": ("context length (tokens)", "上下文长度（词元）"),
    "fig.fwd_ms": ("forward ms", "前向传播 ms"),
    "fig.beam_title": ("Beam search tree{more}<br>solid = kept, dotted = pruned, ★ = finished with its score",
                       "束搜索树{more}<br>实线 = 保留，虚线 = 剪掉，★ = 已完成的候选序列及其得分"),
    "fig.beam_more": (" · steps 1–{n} of {total} in view: drag the bar under the chart to see the rest",
                      " · 显示 {total} 步中的第 1–{n} 步：拖动图下方的滑条查看其余各步"),
    "fig.beam_x": ("step", "步"),
    "fig.beam_y": ("candidates, best first", "候选序列，最好的在前"),
    "fig.gqa_title": ("KV cache: {b} is <b>{saving:.0%} smaller</b> than {a} at every position",
                      "KV 缓存：{b} 在每个位置都比 {a} <b>小 {saving:.0%}</b>"),
    "fig.loss_title": ("Loss (cross-entropy, nats per token)", "损失（交叉熵，每个词元的 nats）"),
    "fig.loss_now": ("<br>step {step}: train {train}", "<br>第 {step} 步：训练 {train}"),
    "fig.loss_now_val": (", validation {val}", "，验证 {val}"),
    "fig.loss_train": ("training batch", "训练批次"),
    "fig.loss_val": ("validation (held-out works)", "验证（留出的作品）"),
    "fig.loss_x": ("training step", "训练步数"),
    "fig.loss_y": ("loss", "损失"),
    "fig.obj_title": ("The objective on one training row: under each input token, its <b>target</b> (the next token)"
                      "<br>p(target) on top, its loss −log p below; the row's loss = their mean = {mean}",
                      "一行训练数据上的训练目标：每个输入词元下方是它的<b>标签</b>（下一个词元）"
                      "<br>上面是 p(标签)，下面是它的损失 −log p；这一行的损失 = 它们的平均 = {mean}"),
    "fig.obj_mean": ("mean {mean}", "平均 {mean}"),
    "fig.obj_loss": ("loss (nats)", "损失（nats）"),
    # inside the model
    "in.tokens": ("tokens<br>T={T}", "词元<br>T={T}"),
    "in.embed": ("embed<br>wte + wpe<br>(T, C={C})", "嵌入<br>wte + wpe<br>(T, C={C})"),
    "in.block": ("block {b}", "块 {b}"),
    "in.lmhead": ("LM head<br>V={V}", "语言模型头<br>（LM Head）<br>V={V}"),
    "in.softmax": ("softmax<br>→ next<br>token", "softmax<br>→ 下一个<br>词元"),
    "in.attention": ("attention<br>head {head} of {n}", "注意力<br>{n} 个头中的第 {head} 个"),
    "in.residual": ("+ residual", "+ 残差"),
    "in.stack_title": ("Where you are: block {layer} of {n_layer}, head {head} · the residual stream (T, C) flows "
                       "left to right", "你在这里：{n_layer} 个块中的第 {layer} 块，第 {head} 个头 · 残差流 (T, C) 从左流向右"),
    "in.first_cols": ("<br>first {m} of {N}", "<br>{N} 列中的前 {m} 列"),
    "in.all_pos": ("all {T} positions", "全部 {T} 个位置"),
    "in.last_pos": ("last {rows} of {T} positions", "{T} 个位置中的最后 {rows} 个"),
    "in.wte": ("token emb. wte", "词元嵌入 wte"),
    "in.wpe": ("position emb. wpe", "位置嵌入 wpe"),
    "in.sum": ("= x (sum)", "= x（求和）"),
    "in.block_input": ("block {layer} input", "第 {layer} 块的输入"),
    "in.shared": (" → K/V head {kv}", " → 第 {kv} 个 K/V 头"),
    "in.t1": ("① Input: token embedding + position embedding", "① 输入：词元嵌入 + 位置嵌入"),
    "in.ln1": ("LN₁(x) · block {layer}", "LN₁(x) · 第 {layer} 块"),
    "in.q": ("Q · head {head}", "Q · 第 {head} 个头"),
    "in.k": ("K · head {head}{kv}", "K · 第 {head} 个头{kv}"),
    "in.v": ("V · head {head}{kv}", "V · 第 {head} 个头{kv}"),
    "in.t2": ("③ Block {layer}: from the normalised x, Q, K, V of head {head} of {H} (hs = {C} / {H} = {hs})",
              "③ 第 {layer} 块：由归一化后的 x 得到 {H} 个头中第 {head} 个头的 Q、K、V（hs = {C} / {H} = {hs}）"),
    "in.scores": ("scores QKᵀ/√hs", "得分 QKᵀ/√hs"),
    "in.masked": ("causal mask: future = −∞", "因果掩码：未来 = −∞"),
    "in.pattern": ("softmax = attention pattern", "softmax = 注意力权重"),
    "in.z": ("z = pattern · V", "z = 权重 · V"),
    "in.t3": ("⑥ Head {head}: scores, causal mask, softmax, weighted sum of V (row = query, column = key)",
              "⑥ 第 {head} 个头：得分、因果掩码、softmax、对 V 加权求和（行 = 查询，列 = 键）"),
    "in.concat": ("all {H} heads concatenated", "{H} 个头拼接"),
    "in.cproj": ("output projection c_proj", "输出投影 c_proj"),
    "in.xattn": ("x + attention", "x + 注意力"),
    "in.t4": ("⑦ Block {layer}: heads side by side ({H} × {hs} = {C}), projected, added to the residual stream",
              "⑦ 第 {layer} 块：各头并排（{H} × {hs} = {C}），投影后加回残差流"),
    "in.expand": ("expand c_fc", "升维 c_fc"),
    "in.project": ("project back c_proj", "降维投影 c_proj"),
    "in.blockout": ("x + MLP = block output", "x + MLP = 块的输出"),
    "in.t5": ("⑧ Block {layer}: the MLP, C → {h} = {H} → C (GELU), and the second residual add",
              "⑧ 第 {layer} 块：MLP，C → {h} = {H} → C（GELU），以及第二次残差相加"),
    "in.out_title": ("⑨ Final {norm} (T={T}, C={C}{cut}) → LM head (V={V}) → softmax: last position's top {n}",
                     "⑨ 最后的 {norm}（T={T}，C={C}{cut}）→ 语言模型头（LM Head，V={V}）→ softmax：最后一个位置的前 {n} 名"),
    "in.out_cut": (", first {m} of {C} columns", "，{C} 列中的前 {m} 列"),
    "in.last_arrow": ("last position →", "最后一个位置 →"),
    "in.lens_title": ("Logit lens · each layer's top guess for the next token ({shown}), through the model's own "
                      "final norm and LM head<br>colour and number: p of that guess · ✓ = it is the token that really "
                      "came next (hover: that token's p)",
                      "Logit lens · 每一层对下一个词元的首选猜测（{shown}），经过模型自己的最后归一化层和语言模型头<br>"
                      "颜色和数字：该猜测的 p · ✓ = 它就是真正出现的下一个词元（悬停可看该词元的 p）"),

    "in.last_position": ("last position", "最后一个位置"),
    "in.mean_positions": ("mean over positions", "各位置平均"),
    "in.norm": ("residual norm ‖x‖", "残差范数 ‖x‖"),
    "in.tied_head": ("0: tied, the LM head is the embedding matrix wte", "0：共享权重，语言模型头就是嵌入矩阵 wte"),
    "in.tie": ("{total} parameters with the head tied to the embeddings · {untied} untied (tying saves {saving})",
               "语言模型头与嵌入共享时共 {total} 个参数 · 不共享时 {untied} 个（共享省下 {saving} 个）"),
    "in.notie": ("{total} parameters (head not tied; tied it would be {tied})",
                 "{total} 个参数（语言模型头未共享；共享时为 {tied}）"),
    "in.kv": ("KV cache: {b} per token", "KV 缓存：每个词元 {b}"),
    "in.params": ("parameters", "参数"),
    # the walkthrough of any block (GPT-2's or Llama's): norm, rotary step, heads sharing K/V, SwiGLU
    "in.embed_rope": ("embed<br>wte<br>(T, C={C})", "嵌入<br>wte<br>(T, C={C})"),
    "in.attention_rope": ("attention<br>+ RoPE<br>head {head} of {n}", "注意力<br>+ RoPE<br>{n} 个头中的第 {head} 个"),
    "in.t1_rope": ("① Input: token embedding only (positions enter later, as a rotation of q and k: ④)",
                   "① 输入：只有词元嵌入（位置信息稍后以 q、k 的旋转加入：见 ④）"),
    "in.stat_x": ("one value per position", "每个位置一个值"),
    "in.lens_embed": ("embed", "嵌入"),  # the logit lens's first row: the stream before any block
    "in.norm_x": ("x · block {layer} input", "x · 第 {layer} 块的输入"),
    "in.t_ln": ("② Block {layer}: LayerNorm, position by position: subtract the mean μ, divide by σ = √(var + ε), "
                "then scale by γ and shift by β (learned)",
                "② 第 {layer} 块：LayerNorm，逐个位置：减去均值 μ，除以 σ = √(方差 + ε)，再乘以 γ、加上 β（可学习）"),
    "in.t_rms": ("② Block {layer}: RMSNorm, position by position: divide by rms = √(mean x² + ε), then scale by w · "
                 "no mean subtracted, no shift β",
                 "② 第 {layer} 块：RMSNorm，逐个位置：除以 rms = √(x² 的均值 + ε)，再乘以 w · 不减均值，也没有偏移 β"),
    "in.q_before": ("q · head {head}, before", "q · 第 {head} 个头，旋转前"),
    "in.q_after": ("q turned (RoPE)", "q 旋转后（RoPE）"),
    "in.k_before": ("k · K/V head {kv}, before", "k · 第 {kv} 个 K/V 头，旋转前"),
    "in.k_after": ("k turned (RoPE)", "k 旋转后（RoPE）"),
    "in.t_rope": ("④ Block {layer}, head {head}: rotary positions. Each pair of dimensions (i, i + hs/2) of q and k "
                  "is turned by the angle t·θᵢ of its position t, so q·k depends only on the offset",
                  "④ 第 {layer} 块，第 {head} 个头：旋转位置编码。q 和 k 的每一对维度 (i, i + hs/2) 按其位置 t 转过 "
                  "t·θᵢ 角，于是 q·k 只取决于两个位置之差"),
    "in.pairs": ("position {t} “{tok}”: q's pairs", "位置 {t}“{tok}”：q 的各维度对"),
    "in.before": ("before", "旋转前"),
    "in.after": ("after", "旋转后"),
    "in.pair_hover": ("pair {i}: turned by {a} rad", "第 {i} 对：转过 {a} 弧度"),
    "in.no_rope": ("④ No rotation in this block: its positions are learned vectors added to the input (①)",
                   "④ 这种块没有旋转：它的位置信息是加在输入上的可学习向量（见 ①）"),
    "in.t_heads_mha": ("⑤ Multi-head attention: each of the {nh} query heads has its own K and V (n_kv_head = "
                       "n_head = {nh})",
                       "⑤ 多头注意力：{nh} 个查询头各有自己的 K 和 V（n_kv_head = n_head = {nh}）"),
    "in.t_heads_gqa": ("⑤ Grouped-query attention: {nh} query heads read {nkv} K/V heads, {g} query heads per group",
                       "⑤ 分组查询注意力（GQA）：{nh} 个查询头读取 {nkv} 个 K/V 头，每组 {g} 个查询头"),
    "in.t_heads_mqa": ("⑤ Multi-query attention: all {nh} query heads read the one K/V head",
                       "⑤ 多查询注意力（MQA）：全部 {nh} 个查询头读取同一个 K/V 头"),
    "in.heads_cache": ("Each token leaves 2 × {nkv} K/V heads × {hs} = {n} values per layer in the KV cache; with one "
                       "K/V head per query head it would be 2 × {nh} × {hs} = {m} ({g}× as many)",
                       "每个词元在每一层的 KV 缓存里留下 2 × {nkv} 个 K/V 头 × {hs} = {n} 个数；若每个查询头都有自己的 "
                       "K/V 头，则是 2 × {nh} × {hs} = {m} 个（{g} 倍）"),
    "in.glu": ("silu(gate) ⊙ up", "silu(门控) ⊙ up"),
    "in.t_swiglu": ("⑧ Block {layer}: the SwiGLU MLP, down_proj(silu(gate_proj x) ⊙ up_proj x), C → {h} = {H} → C, "
                    "and the second residual add",
                    "⑧ 第 {layer} 块：SwiGLU MLP，down_proj(silu(gate_proj x) ⊙ up_proj x)，C → {h} = {H} → C，"
                    "以及第二次残差相加"),
    "fig.cmp_title": ("Each column's next-token distribution, step by step · orange = the token it chose",
                      "每一列逐步的下一个词元分布 · 橙色 = 选中的词元"),
    "fig.cmp_differ": ("<br>The columns first choose differently at step {step}: drag the slider below to see any step",
                       "<br>各列从第 {step} 步起选择不同：拖动下方的滑块查看任意一步"),
    "fig.cmp_same": ("<br>Every column chose the same tokens: drag the slider below to see any step",
                     "<br>各列选中的词元完全相同：拖动下方的滑块查看任意一步"),
    "fig.cmp_strip": ("Probability of the token each column chose, step by step (shaded: the step drawn below)",
                      "每一列每一步选中词元的概率（阴影：下方显示的那一步）"),
    "fig.cmp_step": ("step", "步"),
    "fig.cmp_slider": ("step ", "第几步："),
    "fig.cmp_rank": ("rank {rank}", "排名 {rank}"),
    "fig.cmp_chose": ("step {step}: {context} →<br>chose <b>{token}</b> · rank {rank} · {p}",
                      "第 {step} 步：{context} →<br>选中 <b>{token}</b> · 排名 {rank} · {p}"),
    "fig.cmp_kept": ("kept {kept:,} of {vocab:,} tokens<br>entropy {entropy:.2f} nats",
                     "保留 {vocab:,} 个中的 {kept:,} 个<br>熵 {entropy:.2f} nats"),
    "fig.cmp_ended": ("stopped after {n} tokens", "生成 {n} 个词元后已停止"),
    # -- beam search, train and inside-the-model texts
    "beam.head": ("| # | continuation (bold: where it differs) | differs at token | log p | tokens | score |",
                  "| # | 续写（粗体：不同之处） | 从第几个词元起不同 | log p | 词元数 | 得分 |"),
    "beam.shared": ("All {n} hypotheses begin with the same {k} tokens: <code>{text}</code>",
                    "{n} 个候选序列的前 {k} 个词元相同：<code>{text}</code>"),
    "beam.summary": ("**{n} finished hypotheses** (score = log p / length^{lp}); stopped: {why}, {steps} steps, "
                     "{cands} candidates looked at.",
                     "**{n} 个已完成的候选序列**（得分 = log p / 长度^{lp}）；停止原因：{why}，{steps} 步，考察了 {cands} 个候选。"),
    "train.status": ("**step {step} / {total}** · loss {loss}{val} · **{tps} tokens/s** · elapsed {secs} s · "
                     "{layers} layers × {heads} heads × {width} wide, {block}-token context, {params} parameters · lr {lr}",
                     "**第 {step} / {total} 步** · 损失 {loss}{val} · **每秒 {tps} 个词元** · 用时 {secs} 秒 · "
                     "{layers} 层 × {heads} 头 × 宽 {width}，{block} 词元上下文，{params} 个参数 · 学习率 {lr}"),
    "train.stopping": ("Stopping after this step…", "这一步结束后停止…"),
    "train.idle": ("Nothing is training.", "当前没有在训练。"),
    "train.val": (" · validation {v}", " · 验证集 {v}"),
    "train.stopped": ("■ Stopped by {who}.", "■ 停止原因：{who}。"),
    "train.by.steps": ("steps", "达到步数"),
    "train.by.time limit": ("time limit", "达到时间上限"),
    "train.by.stop button": ("stop button", "按了停止按钮"),
    "train.named": (" The model is now **{name}** in the Model picker, for this tab only.",
                    " 这个模型现在以 **{name}** 出现在“模型”列表中，只对本页有效。"),
    "train.sample": ("**Step {step}, continuation of “ROMEO:”** (sampled at T = {t}, same seed every time) · ",
                     "**第 {step} 步，“ROMEO:”的续写**（T = {t} 采样，每次用同一个种子）· "),
    "inside.prompt": ("the prompt ({n} tokens; no token chosen yet)", "提示词（{n} 个词元；尚未选出词元）"),
    "inside.too_long": ("**This pass is too long to capture here:** {where} reads {T} tokens, and on this model the "
                        "Inside view captures passes of at most {N} tokens (every intermediate of every layer is kept: "
                        "about {mb} MB at {N}). Pick an earlier step with the slider, or a shorter prompt.",
                        "**这次前向传播太长，无法在这里捕获：**{where}读取 {T} 个词元，而在这个模型上，“模型内部”视图最多"
                        "捕获 {N} 个词元的前向传播（每一层的每个中间结果都要保存：{N} 个词元约 {mb} MB）。请用滑块选一个更早的"
                        "步骤，或换一个更短的提示词。"),
    "inside.open": ("Open this tab or press the button: the selected step's forward pass is drawn here.",
                    "打开这个标签页或按下按钮：所选步骤的前向传播会画在这里。"),
    "inside.too_long_fig": ("At most {N} tokens on this model: pick an earlier step", "这个模型最多 {N} 个词元：请选一个更早的步骤"),
    "inside.step": ("step {step}: the {pos} tokens before “{tok}”, the token it chose",
                    "第 {step} 步：在它选出的“{tok}”之前的 {pos} 个词元"),
    "inside.note": ("**One forward pass of {where}**, with the values it really used · layer {layer}, head {head} · "
                    "T = {T}, C = {C}, {H} heads of {hd}, MLP {mlp}, V = {V} · captured and drawn in {ms} ms, only while "
                    "this tab is open (an ordinary Step runs only the newest token, through the explicit attention path, since the "
                    "page keeps each step's attention weights; only the Mask tab re-runs its first 8 tokens, when they change). Pick another step with the slider or a coloured token.",
                    "**{where}的一次前向传播**，用的是它真正用到的数值 · 第 {layer} 层，第 {head} 个头 · "
                    "T = {T}，C = {C}，{H} 个头、每个 {hd} 维，MLP {mlp}，V = {V} · 捕获并绘制用了 {ms} ms，只在本页打开时进行"
                    "（普通的“单步”只运行最新的词元，走显式注意力路径，因为页面要保存每一步的注意力权重；只有“因果掩码”页会在前 8 个词元变化时重算它们）。用滑块或点击彩色词元选择另一步。"),
    "gqa.head": ("| model | heads (query / KV) | KV bytes per position | training steps | held-out loss |",
                 "| 模型 | 头数（查询 / KV） | 每个位置的 KV 字节数 | 训练步数 | 留出集损失 |"),
    "gqa.note": ("Formula: {formula}. Each group of {g} query heads shares one key/value head, so the cache holds "
                 "n_kv_head / n_head of what a multi-head model of the same width holds (here {kv} / {h}: {less} % less).",
                 "公式：{formula}。每 {g} 个查询头共用一个键/值头，所以缓存只有同宽度多头模型的 n_kv_head / n_head"
                 "（这里是 {kv} / {h}：少 {less} %）。"),
    "why.not_cached": ("not in this machine's Hugging Face cache, and it cannot be downloaded now",
                       "本机的 Hugging Face 缓存中没有它，现在也无法下载"),
    "why.offline": (" (the server runs offline: HF_HUB_OFFLINE is set)", "（服务器以离线方式运行：设置了 HF_HUB_OFFLINE）"),
    "why.files": ("its files cannot be loaded", "它的文件无法加载"),
    # -- status line
    "status.head": ("**{model}** · {layers} layers × {heads} heads, {width} wide, {vocab} tokens, {block}-token window · "
                    "prompt {n} tokens · KV cache **{kv}**",
                    "**{model}** · {layers} 层 × {heads} 头，宽 {width}，{vocab} 个词元，{block} 词元窗口 · "
                    "提示词 {n} 个词元 · KV 缓存 **{kv}**"),
    "status.on": ("on", "开"),
    "status.off": ("off", "关"),
    "status.step": ("Step **{step}** of {n}: the model chose “{tok}” (id {id}) with probability {p}, rank {rank} of "
                    "{vocab} candidates · how unsure it was (entropy): {ent} nats",
                    "第 **{step}** 步（共 {n} 步）：模型选了“{tok}”（id {id}），概率 {p}，在 {vocab} 个候选中排第 {rank} · "
                    "它有多不确定（熵）：{ent} nats"),
    # -- issue 18: the status's details line (each number explained), the KV switch's difference, the picker
    "status.details_title": ("Timing and memory: what the computer did for this step",
                             "耗时与内存：计算机为这一步做了什么"),
    "status.details": ("- forward {fwd} ms reading {read} token(s): the model's pass over the tokens it had not read "
                       "yet (with the KV cache, only the newest one)\n"
                       "- step {stepms} ms: that pass plus turning the scores into probabilities and choosing\n"
                       "- KV {kv}: the keys and values kept for every token so far, so they are not computed again\n"
                       "- reserved buffers {reserved}: memory set aside for the cache to grow into (it is allocated "
                       "in blocks, not one token at a time)\n"
                       "- process {rss}: all the memory this server uses, the model's weights included",
                       "- 前向传播 {fwd} ms，读入 {read} 个词元：模型处理尚未读过的词元（有 KV 缓存时只有最新的一个）\n"
                       "- 整步 {stepms} ms：这次前向传播，加上把分数变成概率并选出词元\n"
                       "- KV {kv}：为目前每个词元保存的键和值，不必重新计算\n"
                       "- 预留的缓冲区 {reserved}：为缓存增长预先分配的内存（按块分配，而不是每次一个词元）\n"
                       "- 进程内存 {rss}：这个服务器使用的全部内存，包括模型权重"),
    "status.beam_hint": ("Beam search: press **Step** to search; the **Beam search** tab shows the candidate texts.",
                         "束搜索：按 **单步** 开始搜索；“束搜索”标签页显示各条候选序列。"),
    "fig.preview_title": ("Before step 1: the next-token distribution after the prompt<br>{how} “{token}” · p = {p} · "
                          "entropy {entropy} nats",
                          "第 1 步之前：提示词之后的下一个词元分布<br>{how}“{token}”· p = {p} · 熵 {entropy} nats"),
    # which token step 1 will take: greedy's pick, or the draw the seed makes (surprising when it is unlikely)
    "fig.preview_greedy": ("greedy picks", "贪心解码会选"),
    "fig.preview_sample": ("sampling with seed {seed} draws", "以种子 {seed} 采样会抽到"),
    "fig.beam_mode": ("Beam search keeps several candidate texts instead of one next token: see the Beam search tab",
                      "束搜索保留多条候选序列，而不是只选一个下一个词元：请看“束搜索”标签页"),
    "kv.diff": ("Step {step} taken again with the KV cache **{now}**: the model read **{n}** token(s) in {ms} ms",
                "第 {step} 步在 KV 缓存**{now}**时重新计算：模型读入 **{n}** 个词元，用时 {ms} ms"),
    "kv.diff_on": ("Step {step} taken again with the KV cache **{now}**: it read all **{n}** token(s) in {ms} ms to "
                   "fill the cache; from the next Step, a step reads only **1** new token.",
                   "第 {step} 步在 KV 缓存**{now}**时重新计算：这次读入全部 **{n}** 个词元（{ms} ms）来填满缓存；"
                   "从下一步起，每一步只读入 **1** 个新词元。"),
    "kv.diff_before": (" (cache {was}: {n} token(s) in {ms} ms).", "（缓存{was}时：{n} 个词元，{ms} ms）。"),
    "kv.diff_next": ("KV cache **{now}** from the next Step: with the cache a step reads only the newest token; "
                     "without it, all {n} positions again.",
                     "KV 缓存从下一步起**{now}**：有缓存时每一步只读入最新的词元；没有缓存时要把全部 {n} 个位置重新读一遍。"),
    "model.unavailable_mark": ("(unavailable)", "（不可用）"),
    "model.unavailable": ("unavailable here: {names} ({why})", "此处不可用：{names}（{why}）"),
    "status.stopped": ("■ Stopped: {why}. Press **Back**, change a setting, or **Reset**.",
                       "■ 已停止：{why}。按 **后退**、修改参数，或按 **重置**。"),
    "status.empty": (" · the prompt is empty, so the model starts from the end-of-text token",
                     " · 提示词为空，模型从文本结束词元开始"),
    "stop.eos": ("the end-of-text token", "文本结束词元"),
    "stop.stop_string": ("a stop string", "停止字符串"),
    "stop.max_new_tokens": ("max new tokens", "达到最多生成词元数"),
    "stop.context_full": ("the context window is full", "上下文窗口已满"),
    "chips.legend": ("grey = prompt · colour = probability of the chosen token", "灰色 = 提示词 · 颜色 = 所选词元的概率"),
    "chips.low": ("low", "低"),
    "chips.high": ("high", "高"),
    "chips.click": ("click a coloured token to inspect that step", "点击彩色词元查看那一步"),
    "stage.raw": ("raw", "原始"),
    "stage.repetition_penalty": ("penalty", "重复惩罚"),
    "stage.temperature": ("temperature", "温度"),
    "stage.top_k": ("top-k", "top-k"),
    "stage.top_p": ("top-p", "top-p"),
    "stage.min_p": ("min-p = final", "min-p = 最终"),
    "stage.off": ("{name}<br>(off)", "{name}<br>（关）"),  # a stage at its neutral value (T = 1, top-k 0, ...); 2 lines: six panels fit 1280 px
    # -- figure hovers, legends and colour bars (plotly templates: %{x} is filled in the browser)
    "fig.weight": ("weight", "权重"),
    "fig.attn_hover": ("query %{y} → key %{x}<br>weight %{z:.3f}<extra></extra>",
                       "查询 %{y} → 键 %{x}<br>权重 %{z:.3f}<extra></extra>"),
    "fig.overview_hover": ("layer %{customdata[0]}, head %{customdata[1]}<br>weight %{z:.3f}<br>click: open this head"
                           "<extra></extra>",
                           "第 %{customdata[0]} 层，第 %{customdata[1]} 个头<br>权重 %{z:.3f}<br>点击：打开这个头<extra></extra>"),
    "fig.mask_hover": ("%{customdata}<br>mask %{z:.0f}<extra></extra>", "%{customdata}<br>掩码 %{z:.0f}<extra></extra>"),
    "fig.score_hover": ("%{customdata}<br>score %{z:.3f}<extra></extra>", "%{customdata}<br>得分 %{z:.3f}<extra></extra>"),
    "fig.masked_hover": ("%{customdata}<br>masked score %{z:.3f}<extra></extra>",
                         "%{customdata}<br>掩码后的得分 %{z:.3f}<extra></extra>"),
    "fig.weight_hover": ("%{customdata}<br>weight %{z:.3f}<extra></extra>", "%{customdata}<br>权重 %{z:.3f}<extra></extra>"),
    "fig.no_scores": ("scores not available<br>for this model", "这个模型<br>没有提供得分"),
    "fig.leak_hover": ("position %{x}<br>p = %{y:.4f}<br>max |Δp| over the vocabulary = %{customdata:.2e}"
                       "<extra>%{fullData.name}</extra>",
                       "位置 %{x}<br>p = %{y:.4f}<br>整个词表上的最大 |Δp| = %{customdata:.2e}<extra>%{fullData.name}</extra>"),
    "fig.fwd_hover": ("step %{x}<br>forward %{y:.2f} ms<br>read %{customdata} token(s)<extra></extra>",
                      "第 %{x} 步<br>前向传播 %{y:.2f} ms<br>读入 %{customdata} 个词元<extra></extra>"),
    "fig.step_hover": ("step %{x}<br>whole step %{y:.2f} ms<extra></extra>", "第 %{x} 步<br>整步 %{y:.2f} ms<extra></extra>"),
    "fig.formula_hover": ("%{{x}} positions → %{{y:.2f}} {unit}<extra>formula</extra>",
                          "%{{x}} 个位置 → %{{y:.2f}} {unit}<extra>公式</extra>"),
    "fig.reserved_hover": ("%{{x}} positions: %{{y:.2f}} {unit} reserved<extra></extra>",
                           "%{{x}} 个位置：预留 %{{y:.2f}} {unit}<extra></extra>"),
    "fig.in_use_hover": ("%{{x}} positions: %{{y:.3f}} {unit} in use<extra></extra>",
                         "%{{x}} 个位置：已使用 %{{y:.3f}} {unit}<extra></extra>"),
    "fig.ctx_hover": ("context %{{x}}: %{{y:.2f}} ms<extra>{which}</extra>", "上下文 %{{x}}：%{{y:.2f}} ms<extra>{which}</extra>"),
    "fig.on_short": ("cache on", "开启缓存"),
    "fig.off_short": ("cache off", "关闭缓存"),
    "fig.gqa_formula": ("{name} · {n} KV heads (formula)", "{name} · {n} 个 KV 头（公式）"),
    "fig.gqa_measured": ("{name} (measured)", "{name}（实测）"),
    "fig.gqa_formula_hover": ("%{{x}} positions → %{{y:.3f}} {unit}<extra>{name}</extra>",
                              "%{{x}} 个位置 → %{{y:.3f}} {unit}<extra>{name}</extra>"),
    "fig.gqa_measured_hover": ("%{{x}} positions: %{{y:.3f}} {unit} measured<extra>{name}</extra>",
                               "%{{x}} 个位置：实测 %{{y:.3f}} {unit}<extra>{name}</extra>"),
    "fig.beam_best": ("best hypothesis", "最佳候选序列"),
    "fig.beam_kept": ("kept", "保留"),
    "fig.beam_pruned": ("pruned", "剪掉"),
    "fig.beam_finished": ("finished", "已完成"),
    "fig.beam_hover": ("{token}<br>log p = {lp}<br>cumulative = {cum}", "{token}<br>log p = {lp}<br>累计 = {cum}"),
    "fig.beam_score": ("<br>score = {score} = {cum} / {n}^{a}", "<br>得分 = {score} = {cum} / {n}^{a}"),
    "fig.beam_prompt": ("the prompt", "提示词"),
    "fig.beam_root": ("prompt", "提示词"),
    "fig.beam_edge": ("edge log p", "边的 log p"),
    "fig.train_hover": ("step %{x}<br>train loss %{y:.3f}<extra></extra>", "第 %{x} 步<br>训练损失 %{y:.3f}<extra></extra>"),
    "fig.val_hover": ("step %{x}<br>validation loss %{y:.3f}<extra></extra>", "第 %{x} 步<br>验证损失 %{y:.3f}<extra></extra>"),
    "fig.obj_hover": ("position {i}: input “{a}” → target “{b}”", "位置 {i}：输入“{a}” → 标签“{b}”"),
    "fig.p_target": ("p(target)", "p(标签)"),
    "fig.p_target_hover": ("%{hovertext}<br>p(target) = %{y:.3f}<extra></extra>", "%{hovertext}<br>p(标签) = %{y:.3f}<extra></extra>"),
    "fig.loss_name": ("loss = −log p", "损失 = −log p"),
    "fig.loss_hover": ("%{hovertext}<br>loss = %{y:.3f} nats<extra></extra>", "%{hovertext}<br>损失 = %{y:.3f} nats<extra></extra>"),
    "in.key_x": ("key %{x}", "键 %{x}"),
    "in.panel_hover": ("{name}<br>position %{{y}} · {what}<br>%{{z:.4f}}<extra></extra>",
                       "{name}<br>位置 %{{y}} · {what}<br>%{{z:.4f}}<extra></extra>"),
    "in.lens_hover": ("{layer} · position {t} “{tok}”<br>top guess “{guess}” p = {p}<br>came next: “{next}” p = {q}",
                      "{layer} · 位置 {t}“{tok}”<br>首选猜测“{guess}” p = {p}<br>实际的下一个词元：“{next}” p = {q}"),
    "in.norm_hover": ("%{{y}}: ‖x‖ = %{{x:.2f}}<extra>{which}</extra>", "%{{y}}：‖x‖ = %{{x:.2f}}<extra>{which}</extra>"),
    "in.params_hover": ("%{y}: %{x:,} parameters<extra></extra>", "%{y}：%{x:,} 个参数<extra></extra>"),
    "in.n_bytes": ("{n} bytes", "{n} 字节"),
    "in.comp.embeddings": ("embeddings", "嵌入"),
    "in.comp.attention": ("attention", "注意力"),
    "in.comp.mlp": ("mlp", "MLP"),
    # the Inside tab's plot labels, one per figure
    "plot.inside-stack": ("Where you are", "当前位置"),
    "plot.inside-norm": ("Norm", "归一化"),
    "plot.inside-rope": ("Rotary positions", "旋转位置编码"),
    "plot.inside-heads": ("Heads and their K/V heads", "查询头与 K/V 头"),
    "plot.inside-input": ("Input: embeddings", "输入：嵌入"),
    "plot.inside-qkv": ("Q, K, V", "Q、K、V"),
    "plot.inside-pattern": ("Attention of one head", "一个头的注意力"),
    "plot.inside-attn-out": ("Attention output", "注意力输出"),
    "plot.inside-mlp": ("MLP", "MLP"),
    "plot.inside-output": ("Output: LM head", "输出：语言模型头"),
    "plot.inside-lens": ("Logit lens: each layer's guess", "逐层预测（logit lens）"),
    "plot.inside-params": ("Parameter counts", "参数量"),
    "in.comp.norms": ("norms", "归一化层"),
    "in.comp.head": ("head", "语言模型头"),
    # -- where the course notes are wrong, the page says so (footnotes under the notes they correct)
    "foot.tying": _FOOT_TYING,
    "foot.nucleus": _FOOT_NUCLEUS,
    # -- the GQA table
    "gqa.loss": ("{loss} nats/char", "每字符 {loss} nats"),
    "gqa.steps_note": (" The GQA twin was trained for {gqa_steps} steps against {steps} for the multi-head model, so "
                       "most of the gap in held-out loss comes from the shorter training, not from grouped-query "
                       "attention.",
                       "GQA 版本只训练了 {gqa_steps} 步，多头模型训练了 {steps} 步，所以留出集损失的差距主要来自更短的训练，"
                       "而不是分组查询注意力。"),
    # -- the Faster inference tab: batching and continuous batching (issue 20; figures in figures/batching.py)
    "tab.faster": ("Faster inference", "推理优化"),
    "note.faster": (
        "Four ways to serve a model faster, each **run on the loaded model and measured here**, never simulated.\n\n"
        "**Batching.** A decode step of a small batch is limited by reading the weights, not by arithmetic: "
        "every weight is read once per step whatever the number of rows, so the floor of a step is "
        "$\\text{weight bytes} / \\text{read bandwidth}$. While the batch is small a step costs about the same, "
        "so tokens/s grows almost in proportion to the batch; once the arithmetic takes longer than the reading, "
        "the step grows with the batch and the gain stops.\n\n"
        "**Continuous batching.** Requests end at different times. Static batching keeps a batch until its "
        "longest row ends, so finished rows sit idle; continuous batching (iteration-level scheduling, as in Orca "
        "and vLLM) gives a finished row's slot to the next waiting request before the next step. A new request "
        "first needs a prefill: one forward pass over its prompt, drawn hatched in the timeline, during which the "
        "batch waits. Both runs are greedy and give each request exactly the tokens it gets alone.",
        "四种让模型推理更快的方法，每一种都**在当前加载的模型上真实运行并在这里计时**，没有模拟。\n\n"
        "**批处理。** 小批量的解码步受限于读取权重，而不是计算：无论有多少行，每一步都要把每个权重读一遍，"
        "所以一步的下限是 $\\text{权重字节数} / \\text{读取带宽}$。批小的时候一步的耗时几乎不变，"
        "所以每秒词元数几乎随批大小成正比增长；一旦计算比读取更费时，每步耗时就随批增长，收益到此为止。\n\n"
        "**连续批处理。** 各个请求结束的时间不同。静态批处理要等一批中最长的一行结束，已结束的行只能空等；"
        "连续批处理（迭代级调度）在下一步之前就把结束行的槽位交给下一个等待的请求。新请求先要做一次预填充："
        "对它的提示词做一次前向计算（时间线上带斜线的部分），这期间整批都在等。"
        "两次运行都用贪心解码，每个请求得到的词元与它单独运行时完全相同。"),
    "faster_intro": ("Each section runs the model you picked in the sidebar and measures it on this server; "
                     "the times depend on the machine and on what else it is doing.",
                     "每一部分都在这台服务器上运行侧栏中选定的模型并计时；耗时取决于机器以及它同时在做的其他事情。"),
    "batch_head": ("### 1. Batching: several requests in one forward pass",
                   "### 1. 批处理：一次前向计算服务多个请求"),
    "batch_btn": ("Measure batch sizes 1 to 32", "测量批大小 1 到 32"),
    "fig.press_sweep": ("Press the button: ms per decode step and tokens/s at batch 1 to 32, measured on this model",
                        "按下按钮：在这个模型上实测批大小 1 到 32 时每个解码步的毫秒数和每秒词元数"),
    "batch_summary": (
        "Weights: **{wb}**, read at **{bw:.1f} GB/s** (measured just now by summing a tensor of the same size, "
        "{threads} torch thread(s)) → floor **{floor} ms** per step. Batch 1: **{ms1:.2f} ms** per step, "
        "{x1:.1f}× the floor, {tps1:,.0f} tokens/s. Batch {bmax}: {msmax:.2f} ms per step, {tpsmax:,.0f} tokens/s, "
        "**{gain:.1f}×** batch 1. Tokens/s stays above half of perfect scaling up to batch **{knee}**. "
        "Each point: the median of {n} steps with {ctx} cached positions per row.",
        "权重：**{wb}**，读取带宽 **{bw:.1f} GB/s**（刚刚实测：对同样大小的张量求和，{threads} 个计算线程）→ "
        "每步下限 **{floor} ms**。批大小 1：每步 **{ms1:.2f} ms**，是下限的 {x1:.1f} 倍，每秒 {tps1:,.0f} 个词元。"
        "批大小 {bmax}：每步 {msmax:.2f} ms，每秒 {tpsmax:,.0f} 个词元，是批大小 1 的 **{gain:.1f}** 倍。"
        "直到批大小 **{knee}**，每秒词元数都还在理想线性增长的一半以上。每个点是 {n} 个解码步的中位数，每行缓存 {ctx} 个位置。"),
    "cont_head": ("### 2. Continuous batching: refill a finished row at the next step",
                  "### 2. 连续批处理：某行结束后下一步就补上"),
    "cont_intro": ("A queue of requests cut from the held-out text, with different prompt lengths, output lengths "
                   "and arrival times, is served twice with the same number of batch slots: static batches, then "
                   "continuous batching. Arrivals are counted in decode steps.",
                   "从留出文本中截取一个请求队列，提示词长度、输出长度和到达时间各不相同；用同样多的批槽位把它运行两次："
                   "先静态批处理，再连续批处理。到达时间以解码步计。"),
    "cont_n": ("Requests in the queue", "队列中的请求数"),
    "cont_slots": ("Batch slots", "批槽位数"),
    "cont_every": ("Steps between arrivals (0: all at once)", "到达间隔步数（0：同时到达）"),
    "cont_btn": ("Run the queue: static, then continuous", "运行队列：先静态，再连续"),
    "fig.press_queue": ("Press the button: the same queue served with static and with continuous batching",
                        "按下按钮：同一个队列分别用静态批处理和连续批处理运行"),
    "cont_measure": ("{tps:,.0f} tokens/s · mean latency {mean:,.0f} ms · p95 {p95:,.0f} ms · slots busy {util:.0%}",
                     "每秒 {tps:,.0f} 个词元 · 平均延迟 {mean:,.0f} ms · p95 延迟 {p95:,.0f} ms · 槽位利用率 {util:.0%}"),
    "cont_table_head": ("| | tokens/s | mean latency (ms) | p95 latency (ms) | slots busy | decode steps |",
                        "| | 每秒词元数 | 平均延迟（ms） | p95 延迟（ms） | 槽位利用率 | 解码步数 |"),
    "cont_summary": (
        "On the same queue continuous batching gave **{tp:.2f}×** the throughput of static batching and "
        "{lat:.2f}× its mean latency. {same} Queue: {n} requests, prompts of {p0}–{p1} tokens, {m0}–{m1} new "
        "tokens each, arriving from step {a0} to step {a1}; {slots} slots; greedy; {threads} torch thread(s). "
        "Latency runs from a request's arrival to its last token; slots busy = busy slots ÷ all slots over the "
        "decode steps.",
        "在同一个队列上，连续批处理的吞吐量是静态批处理的 **{tp:.2f}** 倍，平均延迟是它的 {lat:.2f} 倍。{same}"
        "队列：{n} 个请求，提示词 {p0}–{p1} 个词元，每个生成 {m0}–{m1} 个新词元，在第 {a0} 步到第 {a1} 步之间到达；"
        "{slots} 个槽位；贪心解码；{threads} 个计算线程。延迟从请求到达算到它的最后一个词元；"
        "槽位利用率 = 解码步中忙碌的槽位数 ÷ 全部槽位数。"),
    "cont_same": ("Both runs gave every request the same tokens ✓.", "两次运行中每个请求得到的词元都相同 ✓。"),
    "cont_differ": ("⚠️ The two runs gave {k} request(s) different tokens.", "⚠️ 两次运行中有 {k} 个请求得到的词元不同。"),
    "policy.static": ("static", "静态"),
    "policy.continuous": ("continuous", "连续"),
    "faster_spec_missing": ("Speculative decoding and quantisation are not on this page yet.",
                            "投机解码和量化尚未加入本页。"),
    "fig.batch": ("batch size", "批大小"),
    "fig.batch_ms": ("ms per decode step", "每个解码步的毫秒数"),
    "fig.batch_ms_hover": ("batch %{x}: %{y:.2f} ms per step<extra></extra>", "批大小 %{x}：每步 %{y:.2f} ms<extra></extra>"),
    "fig.batch_floor": ("floor: every weight read once", "下限：把每个权重读一遍"),
    "fig.batch_floor_hover": ("%{y:.2f} ms = weight bytes ÷ measured read bandwidth<extra></extra>",
                              "%{y:.2f} ms = 权重字节数 ÷ 实测读取带宽<extra></extra>"),
    "fig.batch_tps": ("tokens/s", "每秒词元数"),
    "fig.batch_tps_hover": ("batch %{x}: %{y:,.0f} tokens/s<extra></extra>", "批大小 %{x}：每秒 %{y:,.0f} 个词元<extra></extra>"),
    "fig.batch_ideal": ("tokens/s if a step cost what it costs at batch 1", "若每步耗时与批大小 1 相同时的每秒词元数"),
    "fig.batch_title": ("Batch {b}: {tps:.1f}× the tokens/s of batch 1, each step {ms:.1f}× as long",
                        "批大小 {b}：每秒词元数是批大小 1 的 {tps:.1f} 倍，每步耗时是它的 {ms:.1f} 倍"),
    "fig.ms_per_step": ("ms per step", "每步毫秒数（ms）"),
    "fig.tokens_per_s": ("tokens per second", "每秒词元数"),
    "fig.slot": ("slot {n}", "槽位 {n}"),
    "fig.seg_decode": ("a request decoding (R3 = request 3)", "请求在解码（R3 = 第 3 号请求）"),
    "fig.seg_prefill": ("prefill: one forward over a new prompt", "预填充：对新提示词做一次前向计算"),
    "fig.seg_idle": ("idle slot", "空闲槽位"),
    "fig.seg_decode_hover": ("request %{customdata[0]}: %{customdata[1]} prompt tokens, %{customdata[2]} new<br>"
                             "arrived at %{customdata[3]:.0f} ms, done at %{customdata[4]:.0f} ms, latency "
                             "%{customdata[5]:.0f} ms<extra></extra>",
                             "第 %{customdata[0]} 号请求：提示词 %{customdata[1]} 个词元，新生成 %{customdata[2]} 个<br>"
                             "%{customdata[3]:.0f} ms 到达，%{customdata[4]:.0f} ms 完成，延迟 %{customdata[5]:.0f} ms"
                             "<extra></extra>"),
    "fig.seg_prefill_hover": ("prefill of request %{customdata[0]}: %{customdata[1]} prompt tokens in one forward, "
                              "%{x:.1f} ms<extra></extra>",
                              "第 %{customdata[0]} 号请求的预填充：一次前向计算处理 %{customdata[1]} 个提示词词元，"
                              "%{x:.1f} ms<extra></extra>"),
    "fig.seg_idle_hover": ("idle for %{x:.1f} ms<extra></extra>", "空闲 %{x:.1f} ms<extra></extra>"),
    "fig.time_ms": ("time since the queue started (ms)", "自队列开始的时间（ms）"),
    "fig.policy_static": ("Static batching: a batch runs until its longest row ends",
                          "静态批处理：一批要等最长的一行结束"),
    "fig.policy_continuous": ("Continuous batching: a finished row is refilled at the next step",
                              "连续批处理：某行结束后下一步就补入新请求"),
    "fig.timeline_title": ("The same queue served twice, measured", "同一个队列实际运行两次并计时"),
    "lesson.batching.title": ("Batching: more rows for almost the same step", "批处理：多几行，每步耗时几乎不变"),
    "lesson.batching.body": (
        "Press **Measure**. Generating one token means reading every weight of the model once, and for one "
        "row that reading, not the arithmetic, is most of the step. Put 8 rows in the batch and the weights are "
        "still read once: the step costs little more, so 8 rows make nearly 8× the tokens per second, "
        "$\\text{tokens/s} = B / t_{\\text{step}}(B)$ with $t_{\\text{step}} \\ge \\text{weight bytes} / \\text{bandwidth}$. "
        "Compare the blue line with that dashed floor (the bandwidth is measured here), and find the batch size "
        "where the step starts to grow with the batch: from there the arithmetic is the limit and batching stops "
        "paying. On a tiny model the Python around each step, not the reading, is most of its time.",
        "按下 **测量**。生成一个词元就要把模型的每个权重读一遍；只有一行时，一步的大部分时间花在读取上，而不是计算上。"
        "批里放 8 行，权重仍然只读一遍：每步只多花一点时间，所以 8 行几乎得到 8 倍的每秒词元数，"
        "$\\text{每秒词元数} = B / t_{\\text{每步}}(B)$，而 $t_{\\text{每步}} \\ge \\text{权重字节数} / \\text{带宽}$。"
        "把蓝线和这条虚线下限（带宽在这里实测）对比，找出每步耗时开始随批大小增长的地方："
        "从那里起，计算成了瓶颈，批处理不再划算。在很小的模型上，每步的大部分时间花在调度各个算子的程序开销上，而不是读取权重。"),
    "lesson.continuous.title": ("Continuous batching: refill the idle slots", "连续批处理：把空闲的槽位补上"),
    "lesson.continuous.body": (
        "Press **Run the queue**. In the static run (top) a batch waits for its longest request: grey idle "
        "slots pile up after the short requests end, and new arrivals wait for the whole batch. In the "
        "continuous run (bottom) a slot freed at one step takes the next waiting request at the next step "
        "(hatched: its prefill, one forward over its prompt, during which the others wait). Fewer idle slots give "
        "more tokens per second and shorter waits: slots busy $= \\sum_{\\text{steps}} \\text{busy slots} / "
        "(\\text{steps} \\times \\text{slots})$. The tokens of every request are the same in both runs.",
        "按下 **运行队列**。在静态运行中（上图），一批要等最长的请求：短请求结束后灰色的空闲槽位越积越多，"
        "新到的请求要等整批结束。在连续运行中（下图），某一步空出的槽位在下一步就交给下一个等待的请求"
        "（斜线部分：它的预填充，对提示词做一次前向计算，这期间其他请求在等）。空闲槽位少了，每秒词元数更多，等待更短："
        "槽位利用率 $= \\sum_{\\text{步}} \\text{忙碌槽位数} / (\\text{步数} \\times \\text{槽位数})$。"
        "两次运行中每个请求的词元完全相同。"),
    # -- the Faster inference tab: speculative decoding and quantisation (issue 20; ui/faster_spec.py,
    #    figures/speculative.py, figures/quantize.py)
    "spec_head": ("### 3. Speculative decoding: a small model drafts, the big one checks",
                  "### 3. 投机解码：小模型起草，大模型验证"),
    "spec_intro": (
        "A small **draft** model guesses $k$ tokens one by one; the **target** checks all of them in one forward "
        "pass, keeps the longest prefix it agrees with and adds one token of its own. The rejection rule "
        "(Leviathan et al. 2023) makes the output exactly the target's: its greedy text, or its distribution "
        "when sampling. Prompt and decoding settings come from the sidebar; speculative and plain decoding are "
        "both timed here, now.",
        "小的**草稿**模型逐个猜出 $k$ 个词元；**目标**模型用一次前向计算检查全部草稿，保留它认可的最长前缀，"
        "再补上一个自己的词元。拒绝采样规则（“Leviathan et al. 2023”）保证输出与目标模型完全一致：贪心时是它的贪心文本，"
        "采样时服从它的分布。提示词和解码参数取自侧栏；投机解码和普通解码都在这里现场计时。"),
    "spec_pair": ("Draft → target", "草稿 → 目标"),
    "spec_pair.info": ("Both share one tokenizer; distilgpt2 → gpt2 needs both downloaded",
                       "两者共用同一个分词器；distilgpt2 → gpt2 需要两个模型都已下载"),
    "spec_k": ("k: tokens drafted per round", "k：每轮起草的词元数"),
    "spec_n": ("New tokens", "新词元数"),
    "spec_btn": ("Run speculative decoding", "运行投机解码"),
    "fig.press_spec": ("Press Run: every round's drafted, accepted and rejected tokens appear here",
                       "按“运行投机解码”：每一轮起草、接受和拒绝的词元显示在这里"),
    "fig.press_spec2": ("…and here the measured speedup beside the formula's",
                        "……这里显示实测的加速比，与公式的预测并列"),
    "spec_summary": (
        "**{draft} drafts, {target} checks** · k = {k} · {n} new tokens · {mode}\n\n"
        "| | plain decoding ({target}) | speculative |\n|---|---|---|\n"
        "| ms per new token (wall clock) | {plain_ms:.2f} | {spec_ms:.2f} |\n"
        "| target forwards per new token | 1.00 | {fwd:.2f} |\n\n"
        "Acceptance **α = {alpha:.2f}** ({acc} of the {tested} checked drafts kept; {d} drafted). Tokens per target "
        "forward: **{tpr:.2f}** measured, **{etpr:.2f}** by the paper's $(1-\\alpha^{{k+1}})/(1-\\alpha)$. Cost ratio "
        "**c = {c:.2f}** (a draft step {draft_ms:.2f} ms ÷ a target step {target_ms:.2f} ms). Speedup "
        "**{measured:.2f}×** measured, **{expected:.2f}×** by the formula "
        "$(1-\\alpha^{{k+1}})/((1-\\alpha)(ck+1))$. {same}",
        "**{draft} 起草，{target} 验证** · k = {k} · {n} 个新词元 · {mode}\n\n"
        "| | 普通解码（{target}） | 投机解码 |\n|---|---|---|\n"
        "| 每个新词元的毫秒数（实际耗时） | {plain_ms:.2f} | {spec_ms:.2f} |\n"
        "| 每个新词元的目标模型前向次数 | 1.00 | {fwd:.2f} |\n\n"
        "接受率 **α = {alpha:.2f}**（检查过的 {tested} 个草稿词元中保留了 {acc} 个；共起草 {d} 个）。"
        "每次目标模型前向得到的词元数：实测 **{tpr:.2f}**，论文公式 $(1-\\alpha^{{k+1}})/(1-\\alpha)$ 给出 **{etpr:.2f}**。"
        "代价比 **c = {c:.2f}**（草稿模型一步 {draft_ms:.2f} ms ÷ 目标模型一步 {target_ms:.2f} ms）。"
        "加速比：实测 **{measured:.2f}×**，公式 $(1-\\alpha^{{k+1}})/((1-\\alpha)(ck+1))$ 给出 **{expected:.2f}×**。{same}"),
    "spec_same": ("The tokens are exactly the target's own greedy tokens ✓.", "得到的词元与目标模型自己贪心解码的词元完全相同 ✓。"),
    "spec_differ": ("✗ The tokens differ from the target's plain greedy decoding (a near-tie decided differently by "
                    "the verifying pass's arithmetic).",
                    "✗ 得到的词元与目标模型普通贪心解码不同（验证时的计算顺序让一个几乎相等的并列换了结果）。"),
    "spec_sampled": ("Sampled: every token passed the rejection rule, so the text follows the target's distribution; "
                     "it is a different random draw from plain sampling with the same seed.",
                     "采样：每个词元都经过拒绝规则，所以文本服从目标模型的分布；它与同一种子的普通采样是不同的随机抽取。"),
    "spec_paid": ("**Speculation paid off here: {x:.2f}× the speed of plain decoding** (c = {c:.2f}).",
                  "**投机解码在这里划算：速度是普通解码的 {x:.2f}×**（c = {c:.2f}）。"),
    "spec_not_paid": (
        "**Speculation did not pay off here ({x:.2f}× the speed of plain decoding).** The formula expects {e:.2f}× from "
        "α and c = {c:.2f}, but it counts forward passes only: it assumes that checking k + 1 tokens costs one "
        "ordinary step and that nothing else takes time. On a CPU a small model's step is mostly fixed overhead "
        "(Python, one kernel call per operation), so a draft is far less faster than it is smaller, and the "
        "verifying pass, the accept/reject decisions and the steps wasted on rejected drafts all show. Speculation "
        "pays for a large, memory-bound target with a draft that is cheap and often right.",
        "**投机解码在这里不划算（速度是普通解码的 {x:.2f}×）。** 按 α 和 c = {c:.2f}，公式预期 {e:.2f}×；"
        "但公式只数前向计算的次数：它假设检查 k + 1 个词元和普通的一步一样贵，而且别的都不花时间。"
        "在 CPU 上，小模型每一步的大部分时间是固定开销（解释器和每个算子一次的内核调用），所以草稿模型变小了很多，"
        "却远没有快那么多；验证计算、逐个接受或拒绝的判断、以及被拒绝的草稿白费的计算都显出来了。"
        "只有受内存带宽限制的大目标模型，配上便宜又常常猜对的草稿模型，投机解码才划算。"),
    "spec_beam_note": ("Beam search is not speculated: this run used greedy decoding.",
                       "束搜索不做投机：这次运行用的是贪心解码。"),
    "quant_head": ("### 4. Quantisation: int8 and int4 weights", "### 4. 量化：int8 与 int4 权重"),
    "quant_intro": (
        "Store every weight in 8 or 4 bits instead of 32: int8 with one scale per output channel, "
        "$w \\approx s\\,q$; int4 with a scale and a minimum per group of 32 weights, $w \\approx s\\,q + m$. "
        "torch's weight-only kernels multiply with them directly (the activations stay floating point). The model "
        "picked in the sidebar is measured against itself in fp32.",
        "把每个权重用 8 位或 4 位而不是 32 位存储：int8 每个输出通道一个缩放系数，$w \\approx s\\,q$；"
        "int4 每 32 个权重一组，每组一个缩放系数和一个最小值，$w \\approx s\\,q + m$。"
        "框架自带的只量化权重的矩阵乘法直接用它们计算（激活值仍是浮点数）。侧栏所选的模型与它自己的 fp32 版本对比测量。"),
    "quant_bits": ("Weights", "权重"),
    "quant_btn": ("Quantise and measure", "量化并测量"),
    "fig.press_quant": ("Press Quantise: weight memory and ms per token, fp32 vs quantised",
                        "按“量化并测量”：权重内存和每个词元的毫秒数，fp32 与量化后对比"),
    "fig.press_quant2": ("…and here the next-token probabilities of both", "……这里显示两者的下一个词元概率"),
    "quant_summary": (
        "**{model}, {q_name} weights** (weight-only; each quantised layer rounds its input to bf16)\n\n"
        "| | fp32 | {q_name} |\n|---|---|---|\n"
        "| weight memory | {fp:.1f} {unit} | {q:.1f} {unit} ({ratio:.2f}×) |\n"
        "| ms per token (cached decode step, median) | {fp_ms:.2f} | {q_ms:.2f} ({ms_ratio:.2f}×) |\n"
        "| held-out loss, nats per character | {fp_loss:.4f} | {q_loss:.4f} ({dloss:+.4f}) |\n\n"
        "Over {pos:,} positions of the first {chars:,} held-out characters: max |Δlogit| {dlogit:.3f}, mean "
        "KL(fp32 ‖ {q_name}) {kl:.2e} nats, the same most likely token at {top1:.1%} of the positions.",
        "**{model}，{q_name} 权重**（只量化权重；每个量化层把输入舍入为 bf16）\n\n"
        "| | fp32 | {q_name} |\n|---|---|---|\n"
        "| 权重内存 | {fp:.1f} {unit} | {q:.1f} {unit}（{ratio:.2f}×） |\n"
        "| 每个词元的毫秒数（带缓存的解码步，中位数） | {fp_ms:.2f} | {q_ms:.2f}（{ms_ratio:.2f}×） |\n"
        "| 留出文本上的损失，每字符 nats | {fp_loss:.4f} | {q_loss:.4f}（{dloss:+.4f}） |\n\n"
        "在留出文本前 {chars:,} 个字符的 {pos:,} 个位置上：最大 |Δlogit| {dlogit:.3f}，平均 "
        "KL(fp32 ‖ {q_name}) {kl:.2e} nats，{top1:.1%} 的位置上最可能的词元相同。"),
    "quant_faster": ("Here a quantised step took **{r:.2f}×** the time of an fp32 step: fewer bytes to read.",
                     "在这里量化后的一步耗时是 fp32 的 **{r:.2f}×**：要读的字节更少了。"),
    "quant_slower": (
        "**Not faster here: a quantised step took {r:.2f}× the time of an fp32 step.** Weight-only quantisation "
        "reads fewer bytes but must unpack them and convert the activations in every layer; a small model's step "
        "is mostly fixed overhead, not reading weights, so the extra work shows. The benchmark "
        "(benchmarks/quantize.py) measures GPT-2-sized weights, where reading the weights is most of a step.",
        "**在这里没有更快：量化后的一步耗时是 fp32 的 {r:.2f}×。** 只量化权重时要读的字节更少，但每一层都要解包权重、"
        "转换激活值；小模型每一步的大部分时间是固定开销，而不是读取权重，所以多出的计算就显出来了。"
        "基准测试在 GPT-2 大小的权重上测量，那里一步的大部分时间花在读取权重上。"),
    "fig.spec_accepted": ("accepted draft", "被接受的草稿词元"),
    "fig.spec_rejected": ("rejected draft", "被拒绝的草稿词元"),
    "fig.spec_unchecked": ("not checked (after a rejection)", "未检查（在拒绝之后）"),
    "fig.spec_correction": ("target's correction", "目标模型的修正"),
    "fig.spec_bonus": ("target's bonus token", "目标模型的额外词元"),
    "fig.spec_draft_col": ("draft {i}", "草稿 {i}"),
    "fig.spec_target_col": ("target", "目标"),
    "fig.spec_round": ("round {r}", "第 {r} 轮"),
    "fig.spec_rounds": ("Rounds", "各轮"),
    "fig.spec_rounds_title": ("{n} rounds (first {shown} shown): {a} of {d} drafted tokens accepted · "
                              "{f} target forwards per new token",
                              "{n} 轮（显示前 {shown} 轮）：{d} 个草稿词元中接受了 {a} 个 · 每个新词元 {f} 次目标模型前向计算"),
    "fig.spec_formula": ("the paper's formula, k = {k}, c = {c}", "论文公式，k = {k}，c = {c}"),
    "fig.spec_formula_hover": ("α = %{x:.2f}: %{y:.2f}×<extra></extra>", "α = %{x:.2f}：%{y:.2f}×<extra></extra>"),
    "fig.spec_plain": ("plain decoding (1×)", "普通解码（1×）"),
    "fig.spec_expected": ("formula at the measured α: {x}×", "实测 α 处的公式值：{x}×"),
    "fig.spec_measured": ("measured: {x}×", "实测：{x}×"),
    "fig.spec_point_hover": ("α = %{x:.2f}: %{y:.2f}×<extra></extra>", "α = %{x:.2f}：%{y:.2f}×<extra></extra>"),
    "fig.spec_speed_title": ("Speedup over plain decoding: measured {m}×, formula {e}× at α = {a}",
                             "相对普通解码的加速比：实测 {m}×，公式 {e}×（α = {a}）"),
    "fig.spec_alpha": ("acceptance rate α", "接受率 α"),
    "fig.spec_speedup": ("speedup (×)", "加速比（×）"),
    "fig.quant_bars": ("Next-token probabilities: fp32 vs {name}", "下一个词元的概率：fp32 与 {name}"),
    "fig.quant_token": ("token (the likeliest under fp32)", "词元（按 fp32 的概率排序）"),
    "fig.quant_prob": ("probability", "概率"),
    "fig.quant_memory": ("weight memory ({unit})", "权重内存（{unit}）"),
    "fig.quant_ms": ("ms per token", "每个词元的毫秒数"),
    "fig.quant_costs": ("What it saves and what it costs", "省下了什么，又付出了什么"),
    "lesson.speculative.title": ("Speculative decoding: guess, then check", "投机解码：先猜，再验证"),
    "lesson.speculative.body": (
        "Press **Run speculative decoding**. Each row is a round: the tiny draft guesses $k = 4$ tokens (green: the "
        "target agreed; red: the first it refused; grey: never checked), then the target's single forward pass adds "
        "its own token (orange: its correction; blue: a bonus after all four were accepted). Greedy speculation "
        "gives exactly the target's greedy text. The paper's speedup is "
        "$\\frac{1-\\alpha^{k+1}}{(1-\\alpha)(ck+1)}$: it needs a high acceptance rate $\\alpha$ and a cheap draft, "
        "a small cost ratio $c$. Find the measured point on the curve and read whether it is above 1 on this machine.",
        "按下 **运行投机解码**。每一行是一轮：小小的草稿模型猜 $k = 4$ 个词元（绿色：目标模型认可；红色：它拒绝的第一个；"
        "灰色：没有检查），然后目标模型的一次前向计算补上自己的一个词元（橙色：修正；蓝色：四个都被接受后的额外词元）。"
        "贪心的投机解码得到的正是目标模型的贪心文本。论文给出的加速比是 $\\frac{1-\\alpha^{k+1}}{(1-\\alpha)(ck+1)}$："
        "它需要高接受率 $\\alpha$ 和便宜的草稿模型，即小的代价比 $c$。在曲线上找到实测点，看看它在这台机器上是否高于 1。"),
    "lesson.quantize.title": ("Quantisation: fewer bits per weight", "量化：每个权重用更少的位"),
    "lesson.quantize.body": (
        "Press **Quantise and measure** (int8). Each row of a weight matrix is stored as 8-bit integers and one "
        "scale, $w \\approx s\\,q$ with $q \\in \\{-127, \\dots, 127\\}$; int4 keeps a scale and a minimum per group "
        "of 32 weights, $w \\approx s\\,q + m$ with $q \\in \\{0, \\dots, 15\\}$. The memory falls to about a quarter "
        "(int8) or an eighth (int4) plus the scales, the next-token bars barely move and the held-out loss changes "
        "in the third or fourth decimal. Speed is another question: read whether fewer bytes made a step faster "
        "on this machine, and why.",
        "按下 **量化并测量**（int8）。权重矩阵的每一行存成 8 位整数加一个缩放系数，$w \\approx s\\,q$，"
        "$q \\in \\{-127, \\dots, 127\\}$；int4 每 32 个权重一组，保存一个缩放系数和一个最小值，$w \\approx s\\,q + m$，"
        "$q \\in \\{0, \\dots, 15\\}$。内存降到约四分之一（int8）或八分之一（int4），再加上缩放系数；"
        "下一个词元的概率几乎不变，留出文本上的损失只在小数点后第三或第四位变化。速度是另一回事："
        "看看更少的字节是否让这台机器上的每一步变快了，以及为什么。"),
    "status.hint": ("Press **Step** to generate the next token, or **Run** to continue to a stop.",
                    "按 **单步** 生成下一个词元，或按 **运行** 一直生成到停止。"),
    # -- the Architecture tab (issue 19 items 4-6: size and KV-memory calculator, two blocks, RoPE; its lessons)
    "tab.arch": ("Architecture", "架构"),
    "note.arch": (
        "**Parameters** follow from the shapes alone. Each block has attention, "
        "$C \\cdot (H + 2H_{kv})\\,d_h + H d_h \\cdot C$ (queries, keys, values, output), an MLP of $2CI$ "
        "(GELU: up, down) or $3CI$ (SwiGLU: gate, up, down), and two norms; around the blocks sit the token "
        "embedding $VC$, GPT-2's table of learned positions, the final norm and the output head $VC$, which is "
        "no extra matrix when it is tied to the embedding. **The KV cache** holds\n\n"
        "$$\\text{bytes} = 2 \\times L \\times B \\times H_{kv} \\times T \\times d_h \\times \\text{bytes per value}$$\n\n"
        "so grouped-query attention ($H_{kv} < H$) shrinks it to $H_{kv}/H$. **RoPE** turns dimension pair $i$ of "
        "a query or key at position $m$ by the angle $m\\,\\theta^{-2i/d_h}$; a query at $m$ and a key at $n$ then "
        "score $q^\\top R_{n-m}\\,k$: only the offset $n - m$ matters.",
        "**参数量**只由各个形状决定。每个块里有注意力 $C \\cdot (H + 2H_{kv})\\,d_h + H d_h \\cdot C$（查询、键、值、输出），"
        "MLP 为 $2CI$（GELU：升维、降维）或 $3CI$（SwiGLU：门控、升维、降维），以及两个归一化层；块的外面是词元嵌入 "
        "$VC$、GPT-2 的可学习位置表、最后的归一化层和输出头 $VC$——输出头与嵌入共享权重时不再多占一个矩阵。"
        "**KV 缓存**占用\n\n"
        "$$\\text{字节数} = 2 \\times L \\times B \\times H_{kv} \\times T \\times d_h \\times \\text{每个值的字节数}$$\n\n"
        "所以分组查询注意力（$H_{kv} < H$）把它缩小到 $H_{kv}/H$。**RoPE** 把位置 $m$ 上查询或键的第 $i$ 对维度旋转 "
        "$m\\,\\theta^{-2i/d_h}$ 的角度；位置 $m$ 的查询与位置 $n$ 的键的得分于是为 $q^\\top R_{n-m}\\,k$：只与偏移 "
        "$n - m$ 有关。"),
    "arch_intro": (
        "How big is a model, how much memory does its KV cache take, and what changed in the decoder block since "
        "GPT-2? Everything here is computed from config.json files: the shipped ones are the published configs of "
        "real models (no weights), and you can paste any other.",
        "一个模型有多大？它的 KV 缓存占多少内存？从 GPT-2 到现在，解码器块变了什么？这里的一切都由 config.json "
        "计算得出：内置的是真实模型公开发布的配置文件（不含权重），你也可以粘贴任意一个。"),
    "arch_calc_head": ("### Size and KV-memory calculator", "### 参数量与 KV 内存计算器"),
    "arch_pick": ("Shipped configs", "内置配置"),
    "arch_pick.info": ("Published config.json files of real models, configs only", "真实模型公开的 config.json，只有配置"),
    "arch_paste": ("…or paste a config.json (at most 64 KB)", "……或粘贴一个 config.json（最多 64 KB）"),
    "arch_paste.info": ("This server takes no file uploads: open the file and paste its text. Types: gpt2, llama, "
                        "qwen2, mistral",
                        "本服务器不接受上传文件：请打开文件，粘贴其中的文本。支持的类型：gpt2、llama、qwen2、mistral"),
    "arch_context": ("Context (positions)", "上下文长度（位置数）"),
    "arch_context.info": ("Tokens held in the cache", "缓存中保存的词元数"),
    "arch_batch": ("Batch", "批大小"),
    "arch_dtype": ("Data type", "数据类型"),
    "arch_dtype.info": ("Bytes per value: fp32 4, fp16 / bf16 2, fp8 / int8 1", "每个值的字节数：fp32 为 4，fp16 / bf16 为 2，fp8 / int8 为 1"),
    "arch_kv_heads": ("KV heads (what if)", "KV 头数（假如）"),
    "arch_kv_heads.info": ("0 = as configured; 8 = what GQA-8 would store", "0 = 按配置；8 = 改用 GQA-8 时要存多少"),
    "arch_calc_btn": ("Calculate ▶", "计算 ▶"),
    "arch_params_plot": ("Parameters per component", "各组成部分的参数量"),
    "arch_kv_plot": ("KV-cache memory vs context", "KV 缓存内存与上下文长度"),
    "arch_pair_head": ("### Two blocks side by side", "### 并排比较两个块"),
    "arch_a": ("Model A", "模型 A"),
    "arch_b": ("Model B", "模型 B"),
    "arch_pair_btn": ("Compare ▶", "比较 ▶"),
    "arch_blocks_plot": ("The two decoders, part by part", "两个解码器，逐个部件对照"),
    "arch_rope_head": ("### RoPE: positions by rotation", "### RoPE：用旋转表示位置"),
    "rope_model": ("Model", "模型"),
    "rope_model.info": ("A model this server runs; RoPE needs a rotary one", "本服务器运行的模型；要看 RoPE 需选旋转位置编码的模型"),
    "rope_shift": ("Shift the prompt by N positions", "把提示词整体平移 N 个位置"),
    "rope_shift.info": ("The same tokens, read again at positions N, N+1, …", "同样的词元，从位置 N、N+1、……重新读一遍"),
    "rope_layer": ("Layer", "层"),
    "rope_head": ("Head", "头"),
    "rope_btn": ("Shift ▶", "平移 ▶"),
    "rope_shift_plot": ("Scores at positions 0… and N…", "位置 0… 与位置 N… 上的得分"),
    "rope_angles_plot": ("Rotation angle per position and dimension pair", "每个位置、每对维度的旋转角度"),
    "arch.pasted": ("pasted config", "粘贴的配置"),
    "arch.what_if": ("{k} KV heads", "{k} 个 KV 头"),
    "arch.what_if_kept": ("⚠️ {k} KV heads cannot serve the query heads of {names} ({k} must divide their number): "
                          "shown as configured.",
                          "⚠️ {k} 个 KV 头无法分给 {names} 的查询头（{k} 必须整除查询头数）：按原配置显示。"),
    "arch.server_model": ("{name} · model on this server", "{name} · 本服务器上的模型"),
    "arch.tied": ("tied head", "输出头共享嵌入"),
    "arch.untied": ("own head", "独立输出头"),
    "arch.val.layernorm": ("LayerNorm", "LayerNorm"),
    "arch.val.rmsnorm": ("RMSNorm", "RMSNorm"),
    "arch.val.learned": ("learned (a table)", "可学习（位置表）"),
    "arch.val.rotary": ("rotary (RoPE)", "旋转（RoPE）"),
    "arch.val.gelu": ("GELU", "GELU"),
    "arch.val.swiglu": ("SwiGLU", "SwiGLU"),
    "arch.yes": ("yes", "是"),
    "arch.no": ("no", "否"),
    "arch.table_head": ("| model | parameters, head tied · untied | weights ({dtype}) | query / KV heads | "
                        "KV per position | KV, {n} positions × batch {b} |",
                        "| 模型 | 参数量，输出头共享 · 独立 | 权重（{dtype}） | 查询头 / KV 头 | 每个位置的 KV | "
                        "KV，{n} 个位置 × 批大小 {b} |"),
    "arch.table_note": ("Bold: the model as published; the other count is the same model with its output head tied to "
                        "the token embedding, or given its own matrix.",
                        "粗体：实际发布的模型；另一个数是同一个模型把输出头改为共享词元嵌入、或改为独立矩阵时的参数量。"),
    "arch.parts_head": ("| component | {names} |", "| 组成部分 | {names} |"),
    "arch.formula_intro": ("**KV cache** = 2 (keys and values) × layers × batch × KV heads × positions × head size × "
                           "bytes per value:",
                           "**KV 缓存** = 2（键和值）× 层数 × 批大小 × KV 头数 × 位置数 × 每个头的维度 × 每个值的字节数："),
    "arch.formula": ("2 × {L} layers × {B} batch × {K} kv_heads × {T} positions × {d} head_dim × {b} bytes = {total} bytes",
                     "2 × {L} 层 × 批大小 {B} × {K} 个 KV 头 × {T} 个位置 × 每个头 {d} 维 × {b} 字节 = {total} 字节"),
    "arch.gqa_saving": ("GQA: {k} KV heads for {h} query heads, {gqa} instead of {mha} with one per query head "
                        "({pct} % less).",
                        "GQA：{h} 个查询头共用 {k} 个 KV 头，只要 {gqa}，而每个查询头各配一个 KV 头时要 {mha}（少 {pct} %）。"),
    "arch.beyond": ("⚠️ {n} positions is beyond its context window of {w}: it was not trained to read that far.",
                    "⚠️ {n} 个位置超出了它的上下文窗口 {w}：它没有被训练读那么远。"),
    "arch.window": ("Its sliding window is {w} positions: a cache that drops older positions would stop growing "
                    "there; this counts every position, as a full cache does.",
                    "它的滑动窗口是 {w} 个位置：丢弃更早位置的缓存到这里就不再增长；这里按完整缓存计算，每个位置都算。"),
    "arch.part.embeddings": ("embeddings", "嵌入"),
    "arch.part.attention": ("attention", "注意力"),
    "arch.part.mlp": ("MLP", "MLP"),
    "arch.part.norms": ("norms", "归一化"),
    "arch.part.head": ("output head", "输出头"),
    "arch.part_hover": ("%{{y}}<br>{part}: %{{customdata[0]:,.0f}} parameters (%{{customdata[1]:.1f}} %)<extra></extra>",
                        "%{{y}}<br>{part}：%{{customdata[0]:,.0f}} 个参数（%{{customdata[1]:.1f}} %）<extra></extra>"),
    "arch.params_title": ("Where the parameters are (share of each model's total)", "参数都在哪里（占各模型总数的比例）"),
    "arch.share": ("share of the parameters", "参数占比"),
    "arch.kv_title": ("KV-cache memory grows with every position, up to each context window (dotted: the weights)",
                      "KV 缓存内存随每个位置增长，画到各自的上下文窗口（点线：同一数据类型的权重）"),
    "arch.kv_x": ("context (positions in the cache)", "上下文长度（缓存中的位置数）"),
    "arch.kv_y": ("KV cache ({unit})", "KV 缓存（{unit}）"),
    "arch.kv_hover": ("%{{x:,.0f}} positions → %{{y:.3g}} {unit}<extra>{name}</extra>",
                      "%{{x:,.0f}} 个位置 → %{{y:.3g}} {unit}<extra>{name}</extra>"),
    "arch.weights_hover": ("weights: %{{y:.3g}} {unit}<extra>{name}</extra>", "权重：%{{y:.3g}} {unit}<extra>{name}</extra>"),
    "arch.kv_context": ("{n} positions", "{n} 个位置"),
    "arch.blocks_title": ("Input at the bottom · orange: a part that differs in kind", "输入在最下方 · 橙色：种类不同的部件"),
    "arch.box.embedding": ("token embedding wte<br>{V} × {C}", "词元嵌入 wte<br>{V} × {C}"),
    "arch.box.wpe": ("+ learned positions wpe<br>{P} × {C}", "+ 可学习的位置 wpe<br>{P} × {C}"),
    "arch.box.no_wpe": ("no position table", "没有位置表"),
    "arch.box.layernorm": ("LayerNorm (scale and shift)", "LayerNorm（缩放和平移）"),
    "arch.box.rmsnorm": ("RMSNorm (scale only)", "RMSNorm（只缩放）"),
    "arch.box.rope": ("RoPE: turn q and k by position<br>θ = {theta}", "RoPE：按位置旋转 q 和 k<br>θ = {theta}"),
    "arch.box.no_rope": ("no rotation", "不旋转"),
    "arch.box.mha": ("multi-head attention<br>{H} heads of {d} dims", "多头注意力<br>{H} 个头，每个 {d} 维"),
    "arch.box.gqa": ("GQA: {H} query heads share {K} KV heads<br>{d} dims each", "GQA：{H} 个查询头共用 {K} 个 KV 头<br>每个 {d} 维"),
    "arch.box.mqa": ("MQA: {H} query heads share 1 KV head<br>{d} dims each", "MQA：{H} 个查询头共用 1 个 KV 头<br>每个 {d} 维"),
    "arch.box.qkv_bias": (" · q/k/v biases", " · q/k/v 有偏置"),
    "arch.box.residual": ("+ residual", "+ 残差"),
    "arch.box.gelu": ("MLP with GELU<br>{C} → {I} → {C}", "MLP，GELU 激活<br>{C} → {I} → {C}"),
    "arch.box.swiglu": ("SwiGLU: down(SiLU(gate) × up)<br>{C} → {I} → {C}", "SwiGLU：降维(SiLU(门控) × 升维)<br>{C} → {I} → {C}"),
    "arch.box.final": ("final {norm}", "最后的 {norm}"),
    "arch.box.tied": ("output head = wte (tied)", "输出头 = wte（共享权重）"),
    "arch.box.untied": ("output head: its own matrix<br>{V} × {C}", "输出头：独立的矩阵<br>{V} × {C}"),
    "arch.box.repeat": ("× {L}<br>blocks", "× {L}<br>个块"),
    "arch.diff_head": ("| field | {a} | {b} |", "| 字段 | {a} | {b} |"),
    "arch.diff_note": ("**{n} fields differ**, {same} are the same:", "**{n} 个字段不同**，{same} 个相同："),
    "arch.diff_none": ("The two configs describe the same shape.", "两个配置描述的是同一种形状。"),
    "arch.field.model_type": ("model type", "模型类型"),
    "arch.field.norm": ("normalisation", "归一化"),
    "arch.field.positions": ("positions", "位置编码"),
    "arch.field.rope_theta": ("RoPE base θ", "RoPE 的底数 θ"),
    "arch.field.mlp": ("MLP", "MLP"),
    "arch.field.n_embd": ("hidden size", "隐藏维度"),
    "arch.field.n_layer": ("layers", "层数"),
    "arch.field.n_head": ("query heads", "查询头数"),
    "arch.field.n_kv_head": ("key/value heads", "键/值头数"),
    "arch.field.head_dim": ("head size", "每个头的维度"),
    "arch.field.intermediate_size": ("MLP width", "MLP 宽度"),
    "arch.field.vocab_size": ("vocabulary", "词表大小"),
    "arch.field.context": ("context window", "上下文窗口"),
    "arch.field.tied": ("tied head", "输出头共享嵌入"),
    "arch.field.qkv_bias": ("q/k/v biases", "q/k/v 偏置"),
    "arch.field.out_bias": ("attention output bias", "注意力输出偏置"),
    "arch.field.mlp_bias": ("MLP biases", "MLP 偏置"),
    "arch.field.norm_bias": ("norm shift", "归一化的平移项"),
    "arch.field.sliding_window": ("sliding window", "滑动窗口"),
    "arch.press_rope": ("Press Shift ▶: the model reads the prompt at positions 0… and again at N…",
                        "按“平移 ▶”：模型先在位置 0… 读提示词，再在位置 N… 读一遍"),
    "arch.fix_input": ("Fix the input above", "请修改上面的输入"),
    "arch.rope_not_used": ("{name} does not use it (learned positions)", "{name} 不用它（可学习的位置）"),
    "arch.rope_note_rotary": (
        "**{name}** read the first {T} tokens at positions 0–{T_last} and again at {N}–{last}. Every one of its "
        "{L} layers × {H} heads gives the same scores: max |Δ| = {d} (the largest |score| is {big}; the "
        "difference is float rounding), attention weights max |Δ| = {w}. Only the offset between two positions "
        "enters a score.",
        "**{name}** 在位置 0–{T_last} 读了前 {T} 个词元，又在位置 {N}–{last} 读了一遍。它的全部 {L} 层 × {H} 个头"
        "给出相同的得分：最大 |Δ| = {d}（|得分| 最大为 {big}；差异来自浮点舍入），注意力权重最大 |Δ| = {w}。"
        "进入得分的只有两个位置之间的偏移。"),
    "arch.rope_note_learned": (
        "**{name}** has learned positions: read at {N}–{last} instead of 0–{T_last}, its {T} tokens get other "
        "position vectors, and the scores change: max |Δ| = {d} over its {L} layers × {H} heads (the largest "
        "|score| is {big}; attention weights max |Δ| = {w}). Pick a rotary model to see them stay the same.",
        "**{name}** 用的是可学习的位置：这 {T} 个词元改在位置 {N}–{last}（而不是 0–{T_last}）读取时，加上的是别的位置向量，"
        "得分随之改变：{L} 层 × {H} 个头中最大 |Δ| = {d}（|得分| 最大为 {big}；注意力权重最大 |Δ| = {w}）。"
        "选一个旋转位置编码的模型，就能看到得分保持不变。"),
    "arch.rope_cut": ("(The prompt's other {n} tokens were left out.)", "（提示词其余的 {n} 个词元没有读入。）"),
    "arch.rope_title": ("RoPE angles · head size {d}, θ = {theta} · {source}", "RoPE 角度 · 头的维度 {d}，θ = {theta} · {source}"),
    "arch.rope_x": ("position", "位置"),
    "arch.rope_y": ("dimension pair i (fast → slow)", "维度对 i（快 → 慢）"),
    "arch.rope_bar": ("angle mod 2π", "角度（对 2π 取模）"),
    "arch.rope_hover": ("position %{x}, pair %{y}<br>angle %{customdata[0]:.3f} rad<br>one turn every "
                        "%{customdata[1]:,.1f} positions<extra></extra>",
                        "位置 %{x}，第 %{y} 对<br>角度 %{customdata[0]:.3f} 弧度<br>每 %{customdata[1]:,.1f} 个位置转一圈"
                        "<extra></extra>"),
    "arch.score": ("score", "得分"),
    "arch.shift_panel": ("positions {a}–{b}", "位置 {a}–{b}"),
    "arch.shift_hover": ("query %{y}, key %{x} (at position %{customdata})<br>score %{z:.4f}<extra></extra>",
                         "查询 %{y}，键 %{x}（位于位置 %{customdata}）<br>得分 %{z:.4f}<extra></extra>"),
    "arch.shift_same": ("the same scores", "得分相同"),
    "arch.shift_differ": ("the scores change", "得分改变了"),
    "arch.shift_title": ("Layer {layer}, head {head}: the prompt at positions 0… and shifted by {N}: {verdict}<br>"
                         "max |Δ| this head {d} · every head {all}",
                         "第 {layer} 层，第 {head} 个头：提示词在位置 0… 与平移 {N} 之后：{verdict}<br>"
                         "这个头最大 |Δ| {d} · 所有头 {all}"),
    # the Architecture tab's lessons
    "lesson.modern.title": ("The modern decoder", "现代解码器"),
    "lesson.modern.body": (
        "GPT-2 small (124 M parameters) beside SmolLM2-135M, a Llama of almost the same size: every orange part "
        "changed. **RMSNorm** divides by the root mean square only, with no mean to subtract and no shift: "
        "$x / \\sqrt{\\overline{x^2} + \\epsilon} \\cdot g$, cheaper and as stable. **RoPE** drops the table of "
        "learned positions and turns q and k by their position instead, so a score depends on how far apart two "
        "tokens are, not on where they sit (the shift experiment below reads the prompt at 0… and at 64…). "
        "**SwiGLU** gates the MLP, $W_{down}(\\mathrm{SiLU}(W_{gate}x) \\odot W_{up}x)$: three matrices, so "
        "the width shrinks to about $\\frac{8}{3}C$ to keep the size. **GQA** lets 3 query heads share each key/value "
        "head: a third of the cache. What stays: pre-norm residual blocks and the causal mask.",
        "GPT-2 small（1.24 亿参数）与几乎同样大小的 SmolLM2-135M 并排：橙色部件全都变了。**RMSNorm** 只除以均方根，"
        "不减均值、也没有平移项：$x / \\sqrt{\\overline{x^2} + \\epsilon} \\cdot g$，计算更省，同样稳定。**RoPE** "
        "去掉了可学习的位置表，改为按位置旋转 q 和 k，于是得分取决于两个词元相隔多远，而不是它们在哪里"
        "（下面的平移实验在位置 0… 和 64… 各读一次提示词）。**SwiGLU** 给 MLP 加了门控，"
        "$W_{down}(\\mathrm{SiLU}(W_{gate}x) \\odot W_{up}x)$：有三个矩阵，所以宽度缩到约 $\\frac{8}{3}C$ 以保持参数量。"
        "**GQA** 让 3 个查询头共用一个键/值头：缓存只要三分之一。不变的是：pre-LN 残差块和因果掩码。"),
    "lesson.memory.title": ("How much memory does my model need?", "我的模型需要多少内存？"),
    "lesson.memory.body": (
        "Two parts: the weights, parameters × bytes per value, and the KV cache, which grows with every position. "
        "Llama-2-7B has 6,738,415,616 parameters: 12.6 GiB in fp16. Its cache at 4,096 positions is "
        "$2 \\times 32 \\times 1 \\times 32 \\times 4096 \\times 128 \\times 2$ bytes = exactly 2 GiB "
        "(2,147,483,648 bytes: the “2 GB” of the notes is a GiB). Set **KV heads (what if)** to 8: 512 MiB, "
        "75 % less — Llama-3-8B and Mistral-7B are built that way. Now set KV heads back to 0 and the batch to 8: eight "
        "sequences of 4,096 positions need 16 GiB of cache, more than the weights.",
        "分两部分：权重，即参数量 × 每个值的字节数；以及 KV 缓存，它随每个位置增长。Llama-2-7B 有 6,738,415,616 个参数："
        "fp16 下为 12.6 GiB。它在 4,096 个位置上的缓存是 "
        "$2 \\times 32 \\times 1 \\times 32 \\times 4096 \\times 128 \\times 2$ 字节 = 恰好 2 GiB"
        "（2,147,483,648 字节：讲义中的“2 GB”指的是 GiB）。把 **KV 头数（假如）** 设为 8：512 MiB，少 75 %——"
        "Llama-3-8B 和 Mistral-7B 就是这样设计的。再把 KV 头数改回 0、批大小调到 8：8 个各有 4,096 个位置的序列要 16 GiB "
        "缓存，超过了权重。"),
}


def t(key: str, lang: str = "en", **fmt) -> str:
    """The string for ``key`` in ``lang`` (English for an unknown language), placeholders filled."""
    en, zh = STRINGS[key]
    s = zh if lang == "zh" else en
    return s.format(**fmt) if fmt else s


def why(reason: str, lang: str = "en") -> str:
    """Why a model is unavailable, for the page: the engine's English reason as it is, in 中文 its gist."""
    if lang != "zh":
        return reason
    if "cannot be downloaded" in reason:
        return t("why.not_cached", lang) + (t("why.offline", lang) if "HF_HUB_OFFLINE" in reason else "")
    return t("why.files", lang)


def placeholders(s: str) -> set[str]:
    """The {fields} of a string; the words inside LaTeX's \\text{...} are prose (translated), not fields."""
    return set(re.findall(r"\{(\w+)", re.sub(r"\\text\{[^{}]*\}", "", s)))


def lang_from_accept(header: str | None) -> str:
    """'zh' when the browser's Accept-Language prefers Chinese over English, else 'en'."""
    best, best_q = "en", -1.0
    for part in (header or "").split(","):
        bits = part.strip().split(";")
        tag = bits[0].strip().lower()
        q = 1.0
        for b in bits[1:]:
            if b.strip().startswith("q="):
                try:
                    q = float(b.strip()[2:])
                except ValueError:
                    q = 0.0
        code = tag.split("-")[0]
        if code in LANGS and q > best_q:
            best, best_q = code, q
    return best
