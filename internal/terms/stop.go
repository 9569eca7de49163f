package terms

// Every stop-word list lives in this file. Each serves one use, and they
// differ on purpose: the index keeps negations and directions (not, no, on,
// off, up, down: a manual's meaning turns on them), while matching a claim to
// a sentence and the offline embedder drop some of them. Two lists are frozen
// by what depends on them: the analyzer's (enStop, zhStop, queryStop,
// chatStop) by its rules number (Analyzer.Version; postings of another
// version are rebuilt), the embedder's (EmbedStop, EmbedHanStop) by the
// offline embedder's model name (internal/llm HashModel): a change to
// either needs a new number or name, so stored postings and vectors are never
// compared with new ones.

// enStop is a short English stop list: words so common in manuals that their
// postings cost space without telling chunks apart. Negations and words that
// carry meaning in machine manuals (not, no, off, on, up, down, all) are kept.
var enStop = set(`a an the and or but of to in at by for with from into onto as is are was were be
been being am it its this that these those there here then than so such if else also
can could may might shall should will would do does did done has have had having
which what who whom whose when where why how i me my we our us you your he she his her they them their
just very more most some any each other only own same too
isn aren wasn weren don doesn didn hasn haven hadn won wouldn shouldn couldn mustn needn`)

// queryStop are words a question uses to ask rather than to name its topic.
var queryStop = set(`what how which why where when who whom whose is are do doe does did can could
should would will i me my we our us you your someone somebody anyon anyone anything someth something
tell explain pleas please ok okay
怎么 怎样 怎么样 怎么办 如何 什么 什么样 哪个 哪些 哪里 哪儿 为什么 为何 是否 能否 可否 有没有 是不是 能不能 会不会
吗 呢 吧 啊 请问 一下 我们 你们 想要 需要 应该 可以 能够
怎 么 哪 什 想 请 问 能 会 该 要 需 一 只 没`)

// zhStop are Chinese function words and particles. gse's own stop list is
// not used: it also drops content words such as 开始, 通过, 不同 and 同时.
var zhStop = set(`的 了 和 与 及 或 是 在 有 就 都 而 也 又 把 被 让 给 对 从 向 到 以 为 于 之 其 这 那 个 些
着 过 吗 呢 吧 啊 呀 哦 嘛 么 我 你 他 她 它 我们 你们 他们 它们 这个 那个 这些 那些 这样 那样 这里 那里
以及 并且 或者 而且 但是 因为 所以 如果 虽然 然后 就是 还是 可以 一个 一些 已经 进行 其中 之后
之前 以下 以上 如下 例如 比如 等等`)

func set(words string) map[string]bool {
	m := map[string]bool{}
	start := -1
	for i := 0; i <= len(words); i++ {
		if i == len(words) || words[i] == ' ' || words[i] == '\n' || words[i] == '\t' {
			if start >= 0 {
				m[words[start:i]] = true
			}
			start = -1
		} else if start < 0 {
			start = i
		}
	}
	return m
}

// chatStop are words of conversational English a question uses to talk about
// asking, wanting or the asker's situation rather than to name its topic
// ("I wrote … and nothing happens", "is there something that …"). Stemmed at
// start-up with the analyzer's stemmer, so every inflection the stemmer folds
// together is covered. Words that name things in the manuals stay out even
// when chatty: write (write permission), bit (a HAL type), sort (a command),
// make (the build tool), set, use, work.
var chatStop = stemmedSet(`thing things something anything nothing everything stuff
somebody someone anybody anyone everybody everyone nobody guy guys
happen happens happened happening
wrote written say says said saying tell told telling ask asked asking
know knows knew known think thought guess suppose wonder wondering
want wants wanted wanting need needs needed needing like likes liked
get gets got gotten getting go goes went gone going come comes came coming
try tries tried trying
way ways kind lot lots bunch
actually really basically still already even ever just maybe perhaps somehow anyway anyhow whatever
hi hello hey thanks thank please ok okay sure
our ours ourselves myself yourself
don doesn didn won isn aren wasn weren couldn shouldn wouldn haven hasn hadn`)

// stemmedSet is set with each word stemmed as the analyzer stems English.
func stemmedSet(words string) map[string]bool {
	m := map[string]bool{}
	for w := range set(words) {
		m[stem(w)] = true
	}
	return m
}

// ClaimStop reports English words too common to say which sentence a claim
// is about (answer: quotes chosen for a claim, extractive answers).
func ClaimStop(w string) bool { return claimStop[w] }

var claimStop = set(`the an and or of to in on at is are be it for with this that then if by as from
you your do does how what when can should must not`)

// EmbedStop reports the English function words the offline embedder gives no
// features; alone they say nothing about a topic. Part of the embedder's
// definition (see the top of this file).
func EmbedStop(w []byte) bool { return len(w) <= 10 && embedStop[string(w)] }

var embedStop = set(`a an the and or but if then else of to in on at
by for with from into onto as is are was were be been
being am do does did has have had it its this that
these those there here which who whom what when where why
how i you he she we they me him her us them my
your his our their so not no can could should would
will shall may might must than too very just also about
any all each some such only own same other more most`)

// EmbedHanStop reports the very common Chinese function characters the
// offline embedder gives no unigram feature (they still form bigrams). Part
// of the embedder's definition (see the top of this file).
func EmbedHanStop(r rune) bool {
	switch r {
	case '的', '了', '是', '在', '和', '与', '及', '或', '等', '也', '就', '都', '而', '被', '把',
		'这', '那', '之', '其', '为', '以', '于', '个', '我', '你', '他', '她', '它', '们', '吗', '呢', '吧', '啊':
		return true
	}
	return false
}
