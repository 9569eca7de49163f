package i18n

// errorsZH is the Chinese of the error messages people see, keyed by the
// English format given to shifu.Errorf (or a kind's generic text); the
// verbs take the same arguments in the same order. A test checks each
// format is still written somewhere in the code.
var errorsZH = map[string]string{
	// Kinds' generic texts (shifu.Message).
	"invalid input": "输入无效", "not found": "未找到", "conflict": "冲突", "unauthorized": "未登录",
	"forbidden": "没有权限", "too large": "太大", "unavailable": "暂时不可用", "too many requests": "请求太多", "internal error": "内部错误",

	// Access and forms.
	"this needs the %s role; you are %s":                                                "此操作需要%s角色；你的角色是%s",
	"log in or send a bearer token":                                                     "请先登录，或附上访问令牌",
	"the form has expired (missing or wrong CSRF token): reload the page and try again": "表单已过期（CSRF 令牌缺失或不对）：请刷新页面后重试",
	"no such page or API: %s":                                                           "没有这个页面或接口：%s",
	"method %s is not allowed on %s":                                                    "%[2]s 不支持 %[1]s 方法",
	"send the body as application/json":                                                 "请以 application/json 发送请求体",
	"the JSON body could not be read: %s":                                               "无法读取 JSON 请求体：%s",

	// Questions.
	"the question is empty": "问题是空的",
	"the question is %d characters long; at most %d are accepted":                           "问题有 %d 个字符，最多 %d 个",
	"Shifu is busy answering other questions; please try again in a few seconds":            "师傅正忙着回答其他问题，请几秒钟后再试",
	"answering is not available on this server":                                             "此服务器暂不能回答问题",
	"too many questions: at most %d a minute per person; try again in %s":                   "提问太频繁：每人每分钟最多 %d 个，请 %s 后再试",
	"too many questions from your organisation: at most %d a minute; try again in %s":       "你所在工厂提问太频繁：每分钟最多 %d 个，请 %s 后再试",
	"you have used today's %d model tokens; answering resumes at midnight UTC":              "你今天的 %d 个模型令牌已用完，UTC 午夜后恢复回答",
	"your organisation has used today's %d model tokens; answering resumes at midnight UTC": "你所在工厂今天的 %d 个模型令牌已用完，UTC 午夜后恢复回答",
	"conversation %d not found": "未找到对话 %d",

	// Documents, uploads and notes.
	"%s: the file is empty":                           "%s：文件是空的",
	"%s: the file is over the upload limit of %d MB":  "%s：文件超过了 %d MB 的上传上限",
	"%s: kind %q: accepted kinds are manual and note": "%s：类型 %q 不支持，只能是 manual（手册）或 note（笔记）",
	"%s: no text found, by text layer or OCR; accepted: documents with text, scans and photos of printed pages":                            "%s：文字层和 OCR 都没有找到文字；可上传带文字的文档、扫描件或印刷页面的照片",
	"%s: reading the file (parse, chunk and index) took longer than %s; split the file or upload a smaller one":                            "%s：读取文件（解析、分段、建索引）超过了 %s；请拆分文件或上传更小的文件",
	"%s (%s) looks like a different manual from version %d, %s (%s): confirm to add it as the next version anyway":                         "%s（%s）看起来和第 %d 版 %s（%s）不是同一本手册：确认后仍可作为新版本添加",
	"%s shares no word with the name of version %d, %s, so it looks like a different manual: confirm to add it as the next version anyway": "%s 与第 %d 版的名称 %s 没有相同的词，看起来不是同一本手册：确认后仍可作为新版本添加",
	"a file name is required":                                   "需要文件名",
	"the upload is not valid multipart/form-data":               "上传的内容不是有效的 multipart/form-data",
	"uploads are not available on this server":                  "此服务器暂不能上传",
	"document %d was deleted":                                   "文档 %d 已删除",
	"%s has %d pages, not %d":                                   "%s 只有 %d 页，没有第 %d 页",
	"%s is not a PDF or an image, so it has no page images":     "%s 不是 PDF 或图片，没有页面图像",
	"page images are busy; try again in a few seconds":          "页面图像正忙，请几秒钟后再试",
	"page images are not available on this server":              "此服务器暂不能显示页面图像",
	"a note field is too long: at most 5000 characters each":    "笔记的某一栏太长：每栏最多 5000 个字符",
	"a note needs at least a title and a fix":                   "笔记至少需要标题和处理方法",
	"notes are not available on this server":                    "此服务器暂不能保存笔记",
	"knowledge gap %d not found or already answered":            "知识缺口 %d 不存在或已有答案",
	"knowledge gap %d not found, answered or already dismissed": "知识缺口 %d 不存在、已有答案或已忽略",
	"knowledge gap %d not found or not dismissed":               "知识缺口 %d 不存在或未被忽略",
	"knowledge gap %d not found or not open":                    "知识缺口 %d 不存在或不是待处理状态",
	"merge needs 1 to %d other gaps, got %d":                    "合并需要 1 到 %d 个其他缺口，收到 %d 个",

	// Accounts.
	"the current password is not right":                                                     "当前密码不对",
	"the password is too short: use at least %d characters":                                 "密码太短：至少 %d 个字符",
	"the password is only spaces: use at least %d characters that are not all spaces":       "密码只有空格：请用至少 %d 个不全是空格的字符",
	"the password repeats one character: use at least %d characters, mixed":                 "密码只重复一个字符：请用至少 %d 个不同的字符",
	"the password is one of the most common ones: choose another of at least %d characters": "这是最常见的密码之一：请另选一个至少 %d 个字符的密码",
	"you cannot disable yourself":                                                           "不能停用自己的账号",
}
