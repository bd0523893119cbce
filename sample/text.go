package sample

// The vocabulary of the generated company: department names, Japanese names with their
// romanization (for e-mail addresses), and the phrases posts and comments are made of.

// departmentSpec is one department of the organization chart; parent indexes this list (-1: top).
type departmentSpec struct {
	name   string
	parent int
	weight float64 // relative headcount
}

// departmentChart lists departments in creation order: parents before their children.
var departmentChart = []departmentSpec{
	{"経営企画部", -1, 2},
	{"人事部", -1, 3},
	{"経理財務部", -1, 2},
	{"営業本部", -1, 1},
	{"第一営業部", 3, 8},
	{"第二営業部", 3, 7},
	{"開発本部", -1, 1},
	{"プラットフォーム開発部", 6, 8},
	{"モバイルアプリ開発部", 6, 6},
	{"情報システム部", -1, 3},
	{"カスタマーサクセス部", -1, 5},
	{"マーケティング部", -1, 4},
	{"法務・コンプライアンス部", -1, 2},
	{"品質保証部", 6, 3},
	{"広報部", -1, 2},
	{"デザイン部", 6, 3},
}

// salesHeadquarters is the index in departmentChart under which extra sales departments are added
// when more departments are asked for than the chart has.
const salesHeadquarters = 3

// itDepartment is the department whose first members are administrators.
const itDepartment = "情報システム部"

// deletedDepartment is the name of the soft-deleted, empty department that ends the list.
const deletedDepartment = "新規事業推進室"

type name struct{ kanji, romaji string }

var familyNames = []name{
	{"佐藤", "sato"}, {"鈴木", "suzuki"}, {"高橋", "takahashi"}, {"田中", "tanaka"}, {"伊藤", "ito"},
	{"渡辺", "watanabe"}, {"山本", "yamamoto"}, {"中村", "nakamura"}, {"小林", "kobayashi"},
	{"加藤", "kato"}, {"吉田", "yoshida"}, {"山田", "yamada"}, {"佐々木", "sasaki"},
	{"山口", "yamaguchi"}, {"松本", "matsumoto"}, {"井上", "inoue"}, {"木村", "kimura"},
	{"林", "hayashi"}, {"斎藤", "saito"}, {"清水", "shimizu"}, {"森", "mori"}, {"池田", "ikeda"},
	{"橋本", "hashimoto"}, {"石川", "ishikawa"}, {"長谷川", "hasegawa"}, {"齋藤", "saito"},
	{"渡邊", "watanabe"},
}

// rareFamilyNames are given to the second and third users, so that every dataset has a name
// outside the Basic Multilingual Plane (𠮷, U+20BB7: four bytes in UTF-8, needs utf8mb4) and a
// variant kanji (髙, U+9AD9).
var rareFamilyNames = []name{{"𠮷田", "yoshida"}, {"髙橋", "takahashi"}}

var givenNames = []name{
	{"翔太", "shota"}, {"大輔", "daisuke"}, {"健太", "kenta"}, {"拓也", "takuya"}, {"直樹", "naoki"},
	{"亮", "ryo"}, {"蓮", "ren"}, {"悠斗", "yuto"}, {"陽翔", "haruto"}, {"湊", "minato"},
	{"誠", "makoto"}, {"和也", "kazuya"}, {"陽菜", "hina"}, {"美咲", "misaki"}, {"さくら", "sakura"},
	{"結衣", "yui"}, {"彩", "aya"}, {"真由美", "mayumi"}, {"葵", "aoi"}, {"芽依", "mei"},
	{"凛", "rin"}, {"愛", "ai"}, {"七海", "nanami"}, {"由美子", "yumiko"}, {"ひかり", "hikari"},
	{"智子", "tomoko"},
}

var topics = []string{
	"朝会", "週次定例", "四半期レビュー", "新製品のリリース", "顧客訪問", "採用面接", "予算策定",
	"セキュリティ研修", "社内ハッカソン", "決算説明会", "1on1", "キックオフ", "データ移行作業",
	"展示会の準備", "月次締め", "全社総会",
}

// postTemplates use {topic} for a topic and {name} for a colleague's family name.
var postTemplates = []string{
	"本日の{topic}、お疲れさまでした！",
	"{topic}の資料を共有します。ご確認お願いします🙏",
	"{topic}が無事に完了しました🎉 ご協力いただいた皆さん、ありがとうございました！",
	"明日の{topic}は10:00〜11:00に変更になりました。",
	"{name}さん、{topic}のフォローありがとうございました！とても助かりました😊",
	"【お知らせ】{topic}について、社内ポータルを更新しました。",
	"{topic}で気づいたことをまとめました。コメント歓迎です💬",
	"今週の{topic}の振り返り：良かった点3つ、改善点2つ📝",
	"新しいメンバーが加わりました！皆さんよろしくお願いします👋",
	"{topic}のKPIが先月比+12%でした📈",
	"ランチに新しいお店を開拓しました🍜 おすすめです",
	"今日はリモートワークです🏠 何かあればチャットでどうぞ",
	"障害対応ありがとうございました。原因と再発防止策をまとめています🔧",
	"{topic}の勉強会を開催します！参加希望の方はリアクションください🙋",
	"{name}さんの{topic}でのプレゼン、わかりやすかったです✨",
}

var emoji = []string{
	"👍", "🙌", "✨", "🚀", "🎉", "🙏", "😊", "💡", "🔥", "👏🏻", "👩‍💻", "👨‍👩‍👧", "🇯🇵", "❤️", "☕", "🌸",
	"🍣", "📣",
}

var hashtags = []string{"#日報", "#感謝", "#ナレッジ共有", "#お知らせ", "#雑談"}

// commentTemplates use {name} for the post author's family name.
var commentTemplates = []string{
	"ありがとうございます！",
	"了解です👍",
	"参考になります💡",
	"素晴らしいですね✨",
	"確認しました。",
	"お疲れさまでした🙏",
	"後ほど詳しく教えてください！",
	"私も参加したいです🙋‍♀️",
	"資料のリンクが切れているようです…",
	"おめでとうございます🎉🎉",
	"いいですね、次回もぜひ！",
	"{name}さん、対応ありがとうございます",
	"ｶﾞﾝﾊﾞﾘﾏｼｮｳ（半角ｶﾅ失礼します）",
	"承知しました～",
	"了解しました〜",
}

const editSuffix = "\n\n追記：リンクを修正しました🔗"

// edgeCaseBody is the first post of every dataset: the characters that break pipelines that are
// not byte-exact (four-byte UTF-8, variant kanji, half- and full-width forms, the two wave
// dashes, a combining mark, emoji sequences, quotes, backslashes, LIKE wildcards, tab, CR LF).
const edgeCaseBody = "文字化けチェック：𠮷野家の「𠮷」、髙橋の「髙」、ﾊﾝｶｸｶﾅ、ＦＵＬＬ　ＷＩＤＴＨ、" +
	"〜（U+301C）と～（U+FF5E）、か\u3099（結合文字）、絵文字 👩‍💻👍🏽🇯🇵❤️、" +
	"引用符 ' \" ` とバックスラッシュ \\ と 100% と a_b、\tタブ、\r\nCRLF改行と\nLF改行。"

// longBodyParagraph is repeated to make the second post a long one (meeting minutes).
const longBodyParagraph = "【議事録】四半期レビュー：売上は計画比103%、解約率は0.8ポイント改善。" +
	"次四半期はオンボーディングの短縮と、問い合わせ対応の自動化を優先します。担当：各部長。📊\n"

const (
	midnightBody   = "日付が変わりました。リリース作業、まだ続いています😪 #深夜対応"
	lastMinuteBody = "今日の作業はここまで。おやすみなさい🌙"
	newHireBody    = "本日入社しました！どうぞよろしくお願いします🌸"
)

var searchTerms = []string{"会議室", "経費精算", "有給", "新製品", "VPN", "勉強会"}

// User agents: each user has a desktop browser and sometimes uses the mobile app.
var desktopAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
}

var mobileAgents = []string{
	"KpiSocial/3.12.0 (iPhone; iOS 17.4.1; Scale/3.00)",
	"KpiSocial/3.12.0 (Android 14; Pixel 8)",
}

const healthCheckAgent = "ELB-HealthChecker/2.0"
