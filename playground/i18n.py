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
    "view_step.info": ("Which generated token the views below explain (or click a coloured token)",
                       "下面的视图解释哪一个生成的词元（也可以点击彩色词元）"),
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
    "preset.info": ("Sizes that finish in under a minute on 2 CPU cores", "在 2 个 CPU 核上一分钟内能训练完的规模"),
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
    "t_lr.info": ("AdamW step size; 1e-3 to 3e-3 suits these small models", "AdamW 的步长；这些小模型适合 1e-3 到 3e-3"),
    "t_steps": ("Steps", "训练步数"),
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
                  "sidebar.",
                  "用最多四组参数并排运行同一个提示词。某一列的提示词留空就用页面上的提示词；温度为 0 即贪心。"
                  "随机种子和最多生成词元数取自侧栏。"),
    "cmp_on": ("Column {side}", "第 {side} 列"),
    "cmp_prompt": ("Prompt (empty = the page's)", "提示词（留空 = 页面上的）"),
    "cmp_btn": ("Compare ▶", "对比 ▶"),
    "cmp_plot": ("Next-token distributions side by side", "并排的下一个词元分布"),
    "cmp_placeholder": ("Press Compare: each column's first next-token distribution appears here",
                        "按“对比”：每一列第一步的下一个词元分布显示在这里"),
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
    "fig.all_positions": ("all {S} positions", "全部 {S} 个位置"),
    "fig.last_positions": ("last {W} of {total} positions", "{total} 个位置中的最后 {W} 个"),
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
    "fig.beam_title": ("Beam search tree{more} · solid = kept, dotted = pruned, ★ = finished with its score",
                       "束搜索树{more} · 实线 = 保留，虚线 = 剪掉，★ = 已完成的候选序列及其得分"),
    "fig.beam_more": (" (first {n} of {total} steps)", "（{total} 步中的前 {n} 步）"),
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
    "in.lmhead": ("LM head<br>(T, V={V})", "语言模型头<br>（LM Head）<br>(T, V={V})"),
    "in.softmax": ("softmax<br>→ next token", "softmax<br>→ 下一个词元"),
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
    "in.shared": (" (shared by {n} query heads)", "（{n} 个查询头共用）"),
    "in.t1": ("① Input: token embedding + position embedding", "① 输入：词元嵌入 + 位置嵌入"),
    "in.ln1": ("LN₁(x) · block {layer}", "LN₁(x) · 第 {layer} 块"),
    "in.q": ("Q · head {head}", "Q · 第 {head} 个头"),
    "in.k": ("K · head {head}{kv}", "K · 第 {head} 个头{kv}"),
    "in.v": ("V · head {head}{kv}", "V · 第 {head} 个头{kv}"),
    "in.t2": ("② Block {layer}: LayerNorm, then Q, K, V of head {head} of {H} (hs = {C} / {H} = {hs})",
              "② 第 {layer} 块：LayerNorm，然后是 {H} 个头中第 {head} 个头的 Q、K、V（hs = {C} / {H} = {hs}）"),
    "in.scores": ("scores QKᵀ/√hs", "得分 QKᵀ/√hs"),
    "in.masked": ("causal mask: future = −∞", "因果掩码：未来 = −∞"),
    "in.pattern": ("softmax = attention pattern", "softmax = 注意力权重"),
    "in.z": ("z = pattern · V", "z = 权重 · V"),
    "in.t3": ("③ Head {head}: scores, causal mask, softmax, weighted sum of V (row = query, column = key)",
              "③ 第 {head} 个头：得分、因果掩码、softmax、对 V 加权求和（行 = 查询，列 = 键）"),
    "in.concat": ("all {H} heads concatenated", "{H} 个头拼接"),
    "in.cproj": ("output projection c_proj", "输出投影 c_proj"),
    "in.xattn": ("x + attention", "x + 注意力"),
    "in.t4": ("④ Block {layer}: heads side by side ({H} × {hs} = {C}), projected, added to the residual stream",
              "④ 第 {layer} 块：各头并排（{H} × {hs} = {C}），投影后加回残差流"),
    "in.expand": ("expand c_fc", "升维 c_fc"),
    "in.project": ("project back c_proj", "降维投影 c_proj"),
    "in.blockout": ("x + MLP = block output", "x + MLP = 块的输出"),
    "in.t5": ("⑤ Block {layer}: the MLP, C → 4C = {C4} → C, and the second residual add",
              "⑤ 第 {layer} 块：MLP，C → 4C = {C4} → C，以及第二次残差相加"),
    "in.out_title": ("⑥ Final LayerNorm (T={T}, C={C}{cut}) → LM head (V={V}) → softmax: last position's top {n}",
                     "⑥ 最后的 LayerNorm（T={T}，C={C}{cut}）→ 语言模型头（LM Head，V={V}）→ softmax：最后一个位置的前 {n} 名"),
    "in.out_cut": (", first {m} of {C} columns", "，{C} 列中的前 {m} 列"),
    "in.last_arrow": ("last position →", "最后一个位置 →"),
    "in.lens_title": ("Logit lens · each layer's top guess for the next token ({shown})<br>"
                      "under it: the p that layer gives the token that really came next · colour: p of the guess",
                      "Logit lens · 每一层对下一个词元的首选猜测（{shown}）<br>"
                      "下方数字：该层给真正出现的词元的 p · 颜色：猜测本身的 p"),
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
    "fig.cmp_title": ("First next-token distribution of each column · orange = the token it chose",
                      "每一列第一步的下一个词元分布 · 橙色 = 选中的词元"),
    "fig.cmp_panel": ("<b>{side}</b> · {settings}<br>kept {kept:,} of {vocab:,} tokens<br>entropy {entropy:.2f} nats",
                      "<b>{side}</b> · {settings}<br>保留 {vocab:,} 个中的 {kept:,} 个<br>熵 {entropy:.2f} nats"),
    "fig.cmp_x": ("probability", "概率"),
    # -- beam search, train and inside-the-model texts
    "beam.head": ("| # | continuation | log p | tokens | score |", "| # | 续写 | log p | 词元数 | 得分 |"),
    "beam.summary": ("**{n} finished hypotheses** (score = log p / length^{lp}); stopped: {why}, {steps} steps, "
                     "{cands} candidates looked at.",
                     "**{n} 个已完成的候选序列**（得分 = log p / 长度^{lp}）；停止原因：{why}，{steps} 步，考察了 {cands} 个候选。"),
    "train.status": ("**step {step} / {total}** · loss {loss}{val} · **{tps} tokens/s** · elapsed {secs} s · "
                     "{layers} layers × {heads} heads × {width} wide, {block}-token context, {params} parameters · lr {lr}",
                     "**第 {step} / {total} 步** · 损失 {loss}{val} · **每秒 {tps} 个词元** · 用时 {secs} 秒 · "
                     "{layers} 层 × {heads} 头 × 宽 {width}，{block} 词元上下文，{params} 个参数 · 学习率 {lr}"),
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
    "inside.modern": ("**{model} uses a modern block** ({norm}, {positions} positions, {mlp} MLP). This walkthrough "
                      "draws GPT-2's block (LayerNorm, learned positions, GELU) and does not draw this one yet; its "
                      "parameter counts are below, and every other tab works for it.",
                      "**{model} 用的是新式的块**（{norm}、{positions} 位置编码、{mlp} MLP）。这里的逐步演示画的是 GPT-2 的块"
                      "（LayerNorm、可学习的位置嵌入、GELU），暂时还画不了这种块；下面是它的参数量，其他页面都可以用它。"),
    "inside.modern_fig": ("Not drawn yet for this block", "暂时画不了这种块"),
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
    "unavailable": ("**{name}** is unavailable: {why}", "**{name}** 不可用：{why}"),
    # -- status line
    "status.head": ("**{model}** · {layers} layers × {heads} heads, {width} wide, {vocab} tokens, {block}-token window · "
                    "prompt {n} tokens · KV cache **{kv}**",
                    "**{model}** · {layers} 层 × {heads} 头，宽 {width}，{vocab} 个词元，{block} 词元窗口 · "
                    "提示词 {n} 个词元 · KV 缓存 **{kv}**"),
    "status.on": ("on", "开"),
    "status.off": ("off", "关"),
    "status.step": ("Step **{step}** of {n}: “{tok}” (id {id}) · p = {p} · rank {rank} · entropy {ent} nats · "
                    "forward {fwd} ms reading {read} token(s) · step {stepms} ms · KV {kv} · process {rss}",
                    "第 **{step}** 步（共 {n} 步）：“{tok}”（id {id}）· p = {p} · 排第 {rank} · 熵 {ent} nats · "
                    "前向传播 {fwd} ms，读入 {read} 个词元 · 整步 {stepms} ms · KV {kv} · 进程内存 {rss}"),
    "status.stopped": ("⏹ Stopped: {why}. Press **Back**, change a setting, or **Reset**.",
                       "⏹ 已停止：{why}。按 **后退**、修改参数，或按 **重置**。"),
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
    "status.hint": ("Press **Step** to generate the next token, or **Run** to continue to a stop.",
                    "按 **单步** 生成下一个词元，或按 **运行** 一直生成到停止。"),
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
